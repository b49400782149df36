import Foundation
import VDBCore
import VDBIngest

// The JSON bodies of the HTTP API (Docs/http-api.md). Field names are snake_case.

/// A point id: an unsigned 64-bit integer, accepted as a JSON number or a decimal string
/// (JavaScript cannot hold every 64-bit integer in a number), always written as a number.
struct PointID: Codable, Sendable, Hashable {
    var value: UInt64
    init(_ value: UInt64) { self.value = value }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(UInt64.self) {
            value = n
        } else if let s = try? c.decode(String.self), let n = UInt64(s) {
            value = n
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "an id must be an unsigned 64-bit integer (a number or a decimal string)")
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }

    /// Parses an id from a path segment. - Throws: 400 naming the segment.
    init(parsing text: String) throws {
        guard let n = UInt64(text) else { throw ServerError.badRequest("'\(text)' is not a point id (an unsigned 64-bit integer)") }
        value = n
    }
}

/// A metadata value in JSON: a string, an integer, a number or a boolean.
struct JSONMetadataValue: Codable, Sendable {
    var value: MetadataValue

    init(_ value: MetadataValue) { self.value = value }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { value = .bool(b) }
        else if let i = try? c.decode(Int64.self) { value = .int(i) }
        else if let d = try? c.decode(Double.self) { value = .double(d) }
        else if let s = try? c.decode(String.self) { value = .string(s) }
        else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "a metadata value must be a string, a number or a boolean")
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch value {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .double(let d): if d.isFinite { try c.encode(d) } else { try c.encode(String(d)) }
        case .bool(let b): try c.encode(b)
        }
    }
}

typealias JSONMetadata = [String: JSONMetadataValue]

extension Dictionary where Key == String, Value == JSONMetadataValue {
    init(_ m: Metadata) { self = m.mapValues(JSONMetadataValue.init) }
    var metadata: Metadata { mapValues(\.value) }
}

// MARK: collections

struct CreateCollectionBody: Decodable {
    var dim: Int
    var metric: String?
}

struct IndexParametersBody: Codable {
    var nlist: Int?
    var m: Int?
    var ef_construction: Int?
    var seed: UInt64?
    var build_threads: Int?

    init(_ p: IndexParameters) {
        nlist = p.nlist; m = p.m; ef_construction = p.efConstruction; seed = p.seed; build_threads = p.buildThreads
    }

    var parameters: IndexParameters {
        var p = IndexParameters()
        if let nlist { p.nlist = nlist }
        if let m { p.m = m }
        if let ef_construction { p.efConstruction = ef_construction }
        if let seed { p.seed = seed }
        if let build_threads { p.buildThreads = build_threads }
        return p
    }
}

struct IndexDescription: Encodable {
    var type: String
    var built: Bool
    var params: IndexParametersBody
    var memory_bytes: Int
}

struct CollectionDescription: Encodable {
    var name: String
    var dim: Int
    var metric: String
    var count: Int
    var index: IndexDescription
    var bytes_on_disk: Int
    /// Whether the points carry photos recorded by ingest (the web app shows thumbnails then).
    var photos: Bool

    init(_ info: CollectionInfo, photos: Bool) {
        name = info.name
        dim = info.dimension
        metric = info.metric.rawValue
        count = info.count
        index = IndexDescription(type: info.index.rawValue, built: info.indexBuilt, params: IndexParametersBody(info.parameters),
                                 memory_bytes: info.indexMemoryBytes)
        bytes_on_disk = info.bytesOnDisk
        self.photos = photos
    }
}

struct CollectionList: Encodable {
    var collections: [CollectionDescription]
}

// MARK: points

struct PointBody {
    var id: PointID?
    var vector: [Float]
    var metadata: JSONMetadata?
}

/// `PUT .../points`, read by `init(json:)` (``JSONReader``).
struct UpsertBody {
    var points: [PointBody]
}

struct UpsertResult: Encodable {
    var ids: [PointID]
    var count: Int
}

struct DeleteBody: Decodable {
    var ids: [PointID]
}

struct DeleteResult: Encodable {
    var deleted: Int
    var count: Int
}

struct PointOut: Encodable {
    var id: PointID
    var metadata: JSONMetadata
    var vector: [Float]?

    init(_ r: VectorRecord, withVector: Bool) {
        id = PointID(r.id)
        metadata = JSONMetadata(r.metadata)
        vector = withVector ? r.vector : nil
    }
}

struct ScrollBody: Decodable {
    var limit: Int?
    var offset: PointID?
    var filter: FilterSpec?
    var with_vector: Bool?
}

struct ScrollResult: Encodable {
    var points: [PointOut]
    var next_page_offset: PointID?
}

// MARK: search

struct SearchParamsBody: Decodable {
    var ef: Int?
    var nprobe: Int?
    var rerank: Bool?
}

struct SearchBody: Decodable {
    var vector: [Float]?
    var text: String?
    var id: PointID?
    var k: Int?
    var offset: Int?
    var filter: FilterSpec?
    var params: SearchParamsBody?
    var with_vector: Bool?
}

/// `POST .../search/batch`: several vector searches in one request.
struct SearchBatchBody {
    var searches: [SearchBody]
}

struct Hit: Encodable {
    var id: PointID
    var score: Float
    var distance: Float
    var metadata: JSONMetadata
    var vector: [Float]?
}

struct SearchResult: Encodable {
    var results: [Hit]
    var took_ms: Double
}

// MARK: index and ingest

struct BuildIndexBody: Decodable {
    var type: String
    var params: IndexParametersBody?
}

struct IngestBody: Decodable {
    var paths: [String]
}

struct IngestStatus: Encodable {
    /// idle | running | done | failed
    var state: String
    var paths: [String]
    var total: Int
    var processed: Int
    var ingested: Int
    var unchanged: Int
    var skipped: Int
    var failed: Int
    var elapsed_s: Double
    var eta_s: Double?
    var error: String?
    var report: IngestReport?
}

/// The summary of a finished ingest run (``IngestSummary`` with snake_case keys).
struct IngestReport: Encodable {
    var collection: String
    var model: String
    var added: Int
    var updated: Int
    var unchanged: Int
    var captions: Int
    var pruned: Int
    var skipped: [IngestIssue]
    var failed: [IngestIssue]
    var count: Int
    var seconds: Double
    var images_per_second: Double
    var index_note: String?

    init(_ s: IngestSummary) {
        collection = s.collection; model = s.model; added = s.added; updated = s.updated; unchanged = s.unchanged
        captions = s.captions; pruned = s.pruned; skipped = s.skipped; failed = s.failed; count = s.count
        seconds = s.seconds; images_per_second = s.imagesPerSecond; index_note = s.indexNote
    }
}
