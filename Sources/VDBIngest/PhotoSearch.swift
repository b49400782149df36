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
        try checkModel(model)
        let q = try model.embed(texts: [text])[0]
        return try search(q, k: k, parameters: parameters, filter: filter)
    }

    /// The images closest to the image file at `path` (JPEG or PNG; preprocessed as the model expects).
    public func search(image path: String, model: CLIPModel, k: Int = 10,
                       parameters: SearchParameters = SearchParameters(), filter: SearchFilter? = nil) throws -> [SearchHit] {
        try checkModel(model)
        let pixels = try CLIPImageLoader.pixels(fromFile: path, config: model.preprocess)
        let q = try model.embed(pixels: [pixels])[0]
        return try search(q, k: k, parameters: parameters, filter: filter)
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
