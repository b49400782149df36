import Foundation
import VDBCLIP
import VDBCore

/// Text-to-image and image-to-image search over collections made by ``Ingestor``.
extension Collection {
    /// The images (or, on a `.captions` collection, the captions) closest to a text, by cosine
    /// similarity of CLIP embeddings.
    ///
    /// - Throws: ``IngestError/modelMismatch(collection:stored:given:storedPath:)`` when the
    ///   collection was embedded with another model; storage errors.
    public func search(text: String, model: CLIPModel, k: Int = 10,
                       parameters: SearchParameters = SearchParameters(), filter: SearchFilter? = nil) throws -> [SearchHit] {
        try search(query(text: text, model: model), k: k, parameters: parameters, filter: filter)
    }

    /// The images closest to the image file at `path` (JPEG or PNG; preprocessed as the model expects).
    public func search(image path: String, model: CLIPModel, k: Int = 10,
                       parameters: SearchParameters = SearchParameters(), filter: SearchFilter? = nil) throws -> [SearchHit] {
        try search(query(image: .file(path), model: model), k: k, parameters: parameters, filter: filter)
    }

    /// The images closest to a text among those that satisfy `filter` (at least `k` of them
    /// when `k` match; see ``Filter``).
    public func search(text: String, model: CLIPModel, k: Int = 10,
                       parameters: SearchParameters = SearchParameters(), where filter: Filter) throws -> [SearchHit] {
        try searchExplained(text: text, model: model, k: k, parameters: parameters, where: filter).hits
    }

    /// The images closest to the image file at `path` among those that satisfy `filter`.
    public func search(image path: String, model: CLIPModel, k: Int = 10,
                       parameters: SearchParameters = SearchParameters(), where filter: Filter) throws -> [SearchHit] {
        try searchExplained(image: path, model: model, k: k, parameters: parameters, where: filter).hits
    }

    /// The images closest to a text among those that satisfy `filter`, and how the search ran
    /// (``SearchPlan``):
    ///
    /// ```swift
    /// let found = try photos.searchExplained(text: "beach", model: model, k: 10,
    ///                                        where: try Filter(where: ["taken_at>=2024-06-01", "make=Google"]))
    /// ```
    public func searchExplained(text: String, model: CLIPModel, k: Int = 10,
                                parameters: SearchParameters = SearchParameters(), where filter: Filter?) throws -> SearchResult {
        try searchExplained(contiguous: query(text: text, model: model), k: k, parameters: parameters, where: filter)[0]
    }

    /// The images closest to the image file at `path` among those that satisfy `filter`, and how the search ran.
    public func searchExplained(image path: String, model: CLIPModel, k: Int = 10,
                                parameters: SearchParameters = SearchParameters(), where filter: Filter?) throws -> SearchResult {
        try searchExplained(contiguous: query(image: .file(path), model: model), k: k, parameters: parameters, where: filter)[0]
    }

    /// The CLIP embedding of a text query, after checking the model is the collection's.
    func query(text: String, model: CLIPModel) throws -> [Float] {
        try checkModel(model)
        return try model.embed(texts: [text])[0]
    }

    /// The fingerprint of the model that embedded this collection, if it was made by ingest.
    public var modelFingerprint: String? { get throws { try property(IngestProperty.fingerprint) } }

    /// The directory of the model that embedded this collection, as recorded by ingest.
    public var modelDirectory: String? { get throws { try property(IngestProperty.modelPath) } }

    func checkModel(_ model: CLIPModel) throws {
        if let stored = try property(IngestProperty.fingerprint), stored != model.fingerprint {
            throw IngestError.modelMismatch(collection: name, stored: stored, given: model.fingerprint,
                                            storedPath: try property(IngestProperty.modelPath))
        }
        guard dimension == model.embeddingDimension else {
            throw IngestError.incompatibleCollection(name, reason: "its dimension is \(dimension), the model embeds \(model.embeddingDimension)")
        }
    }
}
