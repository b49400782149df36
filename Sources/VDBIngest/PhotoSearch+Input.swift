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
        try search(query(image: image, model: model), k: k, parameters: parameters, filter: filter)
    }

    /// The images closest to an image among those that satisfy `filter` (nil: all); see ``Filter``.
    public func search(image: CLIPImageInput, model: CLIPModel, k: Int = 10,
                       parameters: SearchParameters = SearchParameters(), where filter: Filter?) throws -> [SearchHit] {
        try searchExplained(contiguous: query(image: image, model: model), k: k, parameters: parameters, where: filter)[0].hits
    }

    /// The CLIP embedding of an image query, after checking the model is the collection's.
    func query(image: CLIPImageInput, model: CLIPModel) throws -> [Float] {
        try checkModel(model)
        return try model.embed(pixels: [try model.pixels(for: image)])[0]
    }
}
