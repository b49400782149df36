import VDBCLIP
import VDBCore

extension Collection {
    /// The images closest to an image given as a file, encoded JPEG/PNG bytes (an upload) or
    /// preprocessed pixels, by cosine similarity of CLIP embeddings.
    ///
    /// - Throws: `ImageError` when the image cannot be decoded,
    ///   ``IngestError/modelMismatch(collection:stored:given:storedPath:)`` when the collection was
    ///   embedded with another model; storage errors.
    public func search(image: CLIPImageInput, model: CLIPModel, k: Int = 10,
                       parameters: SearchParameters = SearchParameters(), filter: SearchFilter? = nil) throws -> [SearchHit] {
        try checkModel(model)
        let q = try model.embed(pixels: [try model.pixels(for: image)])[0]
        return try search(q, k: k, parameters: parameters, filter: filter)
    }
}
