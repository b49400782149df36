import Foundation
import VDBCLIP

/// Decodes and preprocesses an image file for `model`.
func loadPixels(file: String, model: CLIPModel) throws -> PixelTensor {
    throw CLIPError.invalidInput("\(file): image input is not wired yet (the JPEG/PNG preprocessing lands with the image branch)")
}
