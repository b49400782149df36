// The `--json` outputs of vdb: one `Encodable` type per shape, all written by one `JSONEncoder`
// with one style (snake_case keys, sorted, one line per object). Docs/cli.md shows each shape.
//
// The types are write-only on purpose: the CLI tests decode the output with their own mirror of
// the documented shapes, so they check the documentation rather than these types against themselves.
import Foundation
import VDBCore
import VDBIngest

/// The one JSON style of vdb's output: snake_case keys, sorted, compact, slashes unescaped.
struct JSONStyle {
    private let encoder: JSONEncoder

    init() {
        encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    /// `value` as one line of JSON.
    func string(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// Writes `--json` values, one object per line, through a buffered standard output.
struct JSONLineWriter {
    private let style = JSONStyle()
    private var out = StdoutBuffer()

    /// Encodes `value` as one line.
    mutating func write(_ value: some Encodable) throws {
        out.line(try style.string(value))
    }

    /// Writes what is buffered; call once at the end.
    mutating func flush() { out.flush() }

    /// Encodes one value as one line on standard output.
    static func print(_ value: some Encodable) throws {
        var writer = JSONLineWriter()
        try writer.write(value)
        writer.flush()
    }
}

/// A float as a JSON number, or `null` when it is not finite (JSON has no NaN or infinity).
struct JSONFloat<F: BinaryFloatingPoint & Encodable>: Encodable {
    var value: F
    init(_ value: F) { self.value = value }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if value.isFinite { try c.encode(value) } else { try c.encodeNil() }
    }
}

/// A metadata value as the JSON value of its kind (string, integer, number or boolean).
struct JSONMetadataValue: Encodable {
    var value: MetadataValue
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch value {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(JSONFloat(d))
        case .bool(let b): try c.encode(b)
        }
    }

    /// Metadata as a JSON object.
    static func object(_ m: Metadata) -> [String: JSONMetadataValue] { m.mapValues { JSONMetadataValue(value: $0) } }
}

// MARK: - shapes

/// `vdb search --json`, one line per query: `{"query": 0, "results": [{"distance", "id", "metadata"}]}`,
/// with `"plan": {...}` (``SearchPlan``) when the search was filtered or `--explain` was given.
struct SearchResultsJSON: Encodable {
    struct Hit: Encodable {
        var id: UInt64
        var distance: JSONFloat<Float>
        var metadata: [String: JSONMetadataValue]
    }
    var query: Int
    var results: [Hit]
    var plan: SearchPlan?

    init(query: Int, hits: [SearchHit], plan: SearchPlan? = nil) {
        self.query = query
        results = hits.map { Hit(id: $0.id, distance: JSONFloat($0.distance), metadata: JSONMetadataValue.object($0.metadata)) }
        self.plan = plan
    }
}

/// `vdb field list --json`: `{"collection", "fields": [{"name", "type"}]}`.
struct FieldsJSON: Encodable {
    var collection: String
    var fields: [FieldDefinition]
}

/// Build parameters of an index, as `vdb info` and `vdb index build` print them.
struct IndexParametersJSON: Encodable {
    var nlist: Int
    var m: Int
    var efConstruction: Int
    var seed: UInt64
    var buildThreads: Int

    init(_ p: IndexParameters) {
        nlist = p.nlist; m = p.m; efConstruction = p.efConstruction; seed = p.seed; buildThreads = p.buildThreads
    }
}

/// `vdb info NAME --json`: one collection.
struct CollectionInfoJSON: Encodable {
    var name: String
    var dimension: Int
    var metric: Metric
    var count: Int
    var index: IndexKind
    var indexBuilt: Bool
    var parameters: IndexParametersJSON
    var bytesOnDisk: Int
    var indexMemoryBytes: Int
    var fields: [FieldDefinition]

    init(_ i: CollectionInfo) {
        name = i.name; dimension = i.dimension; metric = i.metric; count = i.count; index = i.index
        indexBuilt = i.indexBuilt; parameters = IndexParametersJSON(i.parameters)
        bytesOnDisk = i.bytesOnDisk; indexMemoryBytes = i.indexMemoryBytes; fields = i.fields
    }
}

/// `vdb info --json`: the database and all its collections; `unreadable` lists the collections
/// that could not be read, each with its error (the key is absent when every collection was read).
struct DatabaseInfoJSON: Encodable {
    struct Unreadable: Encodable {
        var name: String
        var error: String
    }
    var path: String
    var bytesOnDisk: Int
    var collections: [CollectionInfoJSON]
    var unreadable: [Unreadable]?
}

/// `vdb index build --json`: what was built.
struct IndexBuildJSON: Encodable {
    var collection: String
    var index: IndexKind
    var parameters: IndexParametersJSON
    var count: Int
    var seconds: Double
    var indexMemoryBytes: Int
}

/// `vdb embed --json`, one line per input: `{"embedding": [...]}`.
struct EmbeddingJSON: Encodable {
    var embedding: [JSONFloat<Float>]
    init(_ e: [Float]) { embedding = e.map(JSONFloat.init) }
}

/// `vdb classify --json`: `{"image", "labels", "probabilities"}`, probabilities in label order.
struct ClassificationJSON: Encodable {
    var image: String
    var labels: [String]
    var probabilities: [JSONFloat<Float>]
}

// `vdb ingest --json` prints ``IngestSummary`` itself (its `Codable` conformance, in this style);
// so do `vdb export --json` (``ExportSummary``) and `vdb merge --json` (``MergeSummary``).

/// `vdb check --json`: the report of `Database.check`.
struct CheckReportJSON: Encodable {
    struct Collection: Encodable {
        var name: String
        var count: Int
        var blocks: Int
        var metadataRecords: Int
        var indexRecords: Int
        var index: IndexKind
        var ok: Bool
        var problems: [String]
    }
    var path: String
    var formatVersion: Int
    var fileBytes: Int
    var requiredBytes: Int
    var ok: Bool
    var problems: [String]
    var collections: [Collection]

    init(_ r: CheckReport) {
        path = r.path; formatVersion = r.formatVersion; fileBytes = r.fileBytes; requiredBytes = r.requiredBytes
        ok = r.ok; problems = r.problems
        collections = r.collections.map {
            Collection(name: $0.name, count: $0.count, blocks: $0.blocks, metadataRecords: $0.metadataRecords,
                       indexRecords: $0.indexRecords, index: $0.index, ok: $0.ok, problems: $0.problems)
        }
    }
}

/// `vdb backup --json`: where the backup went, its size and its check.
struct BackupJSON: Encodable {
    var path: String
    var bytes: Int
    var check: CheckReportJSON
}
