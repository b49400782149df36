import Foundation
import Synchronization

/// An image given to `CLIPModel.embed(images:)`.
public enum CLIPImageInput: Sendable {
    /// A JPEG or PNG file.
    case file(String)
    /// Encoded JPEG or PNG bytes.
    case encoded(Data)
    /// Already preprocessed pixels (see `PixelTensor`).
    case pixels(PixelTensor)
}

extension CLIPModel {
    /// Decodes and preprocesses one image for this checkpoint (`preprocess`: resize, crop,
    /// normalize; EXIF orientation applied, alpha composited on white).
    /// - Throws: `CLIPError` naming the file for unreadable or corrupt images.
    public func pixels(for image: CLIPImageInput) throws -> PixelTensor {
        switch image {
        case .file(let path): return try CLIPImageLoader.pixels(fromFile: path, config: preprocess)
        case .encoded(let data): return try CLIPImageLoader.pixels(fromData: data, config: preprocess)
        case .pixels(let p): return p
        }
    }

    /// Projected (not normalized) embeddings of images given as files, encoded bytes or pixels.
    /// Decoding and preprocessing run on `threads` threads, then the vision tower runs batched.
    /// - Throws: `CLIPError`: the first failing image's error, naming its file, or `.invalidInput` for wrong pixel sizes.
    public func embed(images: [CLIPImageInput]) throws -> [[Float]] {
        let results = ResultBox(count: images.count)
        let parts = max(1, min(threads, images.count))
        DispatchQueue.concurrentPerform(iterations: parts) { k in
            for i in stride(from: k, to: images.count, by: parts) {
                results.set(i, Result { try pixels(for: images[i]) })
            }
        }
        return try embed(pixels: results.values().map { try $0.get() })
    }

    /// Zero-shot classification of an image file, encoded bytes or pixels; see
    /// `classify(pixels:labels:template:)`.
    public func classify(image: CLIPImageInput, labels: [String], template: String = "a photo of a {}") throws -> [Float] {
        try classify(pixels: try pixels(for: image), labels: labels, template: template)
    }
}

/// Per-index results written by concurrent workers (each index written once).
private final class ResultBox: Sendable {
    private let items: Mutex<[Result<PixelTensor, any Error>?]>
    init(count: Int) { items = Mutex(Array(repeating: nil, count: count)) }
    func set(_ i: Int, _ r: Result<PixelTensor, any Error>) { items.withLock { $0[i] = r } }
    func values() -> [Result<PixelTensor, any Error>] {
        items.withLock { $0.map { $0 ?? .failure(CLIPError.invalidInput("image was not processed")) } }
    }
}
