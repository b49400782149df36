import Foundation
import VDBCLIP

/// Decodes and preprocesses an image file for `model` (its `preprocessor_config.json`).
func loadPixels(file: String, model: CLIPModel) throws -> PixelTensor {
    try CLIPImageLoader.pixels(fromFile: file, config: model.preprocess)
}
