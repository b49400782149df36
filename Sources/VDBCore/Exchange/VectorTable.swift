// The table layout of an exported collection, and its translation to and from Arrow arrays:
//
//   id        uint64 (or int64 with `ExportIDType.int64`, what Milvus takes as a primary key)
//   vector    fixed_size_list<float32>[dimension]
//   <key>     one column per metadata key: string, int64, double or bool; null where a vector
//             has no value for the key. A key whose values have several types is a string
//             column of tagged values ("i:12", "d:0.5", "s:text", "b:true"), marked with the
//             field metadata `vdb.type = tagged`, so a round trip keeps every type.
//
// The schema's custom metadata describes the collection: `vdb.format` (1), `vdb.collection`,
// `vdb.metric`, `vdb.dimension`, `vdb.count`, `vdb.properties` (a JSON object). Every metadata
// column carries its key in the field metadata `vdb.key` (the column name differs from the key
// only when the key is "id" or "vector").
import Foundation

/// The Arrow type of the exported `id` column.
public enum ExportIDType: String, Sendable, CaseIterable {
    /// Every vdb id fits (the default).
    case uint64
    /// Signed 64-bit, as Milvus primary keys; ids of 2^63 and above cannot be exported this way.
    case int64
}

/// How the values of one metadata key are stored.
enum MetadataColumnKind: String {
    case string, int, double, bool, tagged

    init(_ v: MetadataValue) {
        switch v {
        case .string: self = .string
        case .int: self = .int
        case .double: self = .double
        case .bool: self = .bool
        }
    }

    var arrowType: ArrowType {
        switch self {
        case .string, .tagged: return .utf8
        case .int: return .int(bitWidth: 64, signed: true)
        case .double: return .float(bits: 64)
        case .bool: return .bool
        }
    }
}

/// Collection-level facts carried in an exported table's schema metadata.
public struct ExchangeHeader: Sendable, Hashable {
    /// Name of the exported collection.
    public var collection: String?
    public var metric: Metric?
    public var dimension: Int?
    /// Rows in the table, when the writer knew it.
    public var count: Int?
    /// Collection properties (e.g. the CLIP model fingerprint).
    public var properties: [String: String]

    public init(collection: String? = nil, metric: Metric? = nil, dimension: Int? = nil, count: Int? = nil,
                properties: [String: String] = [:]) {
        self.collection = collection
        self.metric = metric
        self.dimension = dimension
        self.count = count
        self.properties = properties
    }

    var schemaMetadata: [String: String] {
        var m: [String: String] = ["vdb.format": "1"]
        if let collection { m["vdb.collection"] = collection }
        if let metric { m["vdb.metric"] = metric.rawValue }
        if let dimension { m["vdb.dimension"] = String(dimension) }
        if let count { m["vdb.count"] = String(count) }
        if let data = try? JSONSerialization.data(withJSONObject: properties, options: [.sortedKeys]) {
            m["vdb.properties"] = String(decoding: data, as: UTF8.self)
        }
        return m
    }

    init(schemaMetadata m: [String: String]) {
        collection = m["vdb.collection"]
        metric = m["vdb.metric"].flatMap(Metric.init(rawValue:))
        dimension = m["vdb.dimension"].flatMap { Int($0) }
        count = (m["vdb.count"] ?? m["vdb.rows"]).flatMap { Int($0) }
        properties = [:]
        if let text = m["vdb.properties"], let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] {
            properties = obj
        }
    }
}

/// Builds Arrow record batches from vectors, ids and metadata in the layout above.
struct VectorTableEncoder {
    let dimension: Int
    let idType: ExportIDType
    /// (metadata key, column name, kind), in column order.
    let columns: [(key: String, name: String, kind: MetadataColumnKind)]
    let schema: ArrowSchema

    /// - Parameter kinds: every metadata key with the kinds of value seen for it.
    init(dimension: Int, idType: ExportIDType, kinds: [String: Set<MetadataColumnKind>], header: ExchangeHeader) {
        self.dimension = dimension
        self.idType = idType
        var used: Set<String> = ["id", "vector"]
        var cols: [(String, String, MetadataColumnKind)] = []
        for key in kinds.keys.sorted() {
            var name = key
            while used.contains(name) { name = "_" + name }
            used.insert(name)
            let seen = kinds[key] ?? []
            cols.append((key, name, seen.count == 1 ? seen.first! : .tagged))
        }
        columns = cols
        var fields = [
            ArrowField(name: "id", nullable: false,
                       type: .int(bitWidth: 64, signed: idType == .int64)),
            ArrowField(name: "vector", nullable: false,
                       type: .fixedSizeList(size: dimension, ArrowField(name: "item", nullable: false, type: .float(bits: 32)))),
        ]
        for (key, name, kind) in cols {
            var meta = ["vdb.key": key]
            if kind == .tagged { meta["vdb.type"] = "tagged" }
            fields.append(ArrowField(name: name, nullable: true, type: kind.arrowType, metadata: meta))
        }
        schema = ArrowSchema(fields: fields, metadata: header.schemaMetadata)
    }

    /// One record batch: `ids.count` rows.
    func batch(ids: [UInt64], vectors: [Float], metadata: [Metadata?]) throws -> [ArrowArrayData] {
        let n = ids.count
        var idBytes = [UInt8](repeating: 0, count: n * 8)
        try idBytes.withUnsafeMutableBytes { b in
            for (i, id) in ids.enumerated() {
                if idType == .int64 && id > UInt64(Int64.max) {
                    throw VDBError.invalidArgument("id \(id) does not fit a signed 64-bit id column: export with the uint64 id type")
                }
                b.storeBytes(of: id.littleEndian, toByteOffset: i * 8, as: UInt64.self)
            }
        }
        let values = vectors.withUnsafeBytes { Array($0) }
        var out = [
            ArrowArrayData(length: n, nullCount: 0, buffers: [[], idBytes]),
            ArrowArrayData(length: n, nullCount: 0, buffers: [[]],
                           children: [ArrowArrayData(length: n * dimension, nullCount: 0, buffers: [[], values])]),
        ]
        for (key, _, kind) in columns {
            out.append(try Self.column(metadata.map { $0?[key] }, kind: kind, key: key))
        }
        return out
    }

    static func column(_ values: [MetadataValue?], kind: MetadataColumnKind, key: String) throws -> ArrowArrayData {
        let n = values.count
        var validity = [UInt8](repeating: 0, count: (n + 7) / 8)
        var nulls = 0
        for (i, v) in values.enumerated() {
            if v == nil { nulls += 1 } else { validity[i >> 3] |= 1 << UInt8(i & 7) }
        }
        let bitmap = nulls == 0 ? [] : validity
        switch kind {
        case .int:
            var data = [UInt8](repeating: 0, count: n * 8)
            data.withUnsafeMutableBytes { b in
                for (i, v) in values.enumerated() { b.storeBytes(of: (v?.intValue ?? 0).littleEndian, toByteOffset: i * 8, as: Int64.self) }
            }
            return ArrowArrayData(length: n, nullCount: nulls, buffers: [bitmap, data])
        case .double:
            var data = [UInt8](repeating: 0, count: n * 8)
            data.withUnsafeMutableBytes { b in
                for (i, v) in values.enumerated() {
                    b.storeBytes(of: (v?.doubleValue ?? 0).bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self)
                }
            }
            return ArrowArrayData(length: n, nullCount: nulls, buffers: [bitmap, data])
        case .bool:
            var bits = [UInt8](repeating: 0, count: (n + 7) / 8)
            for (i, v) in values.enumerated() where v?.boolValue == true { bits[i >> 3] |= 1 << UInt8(i & 7) }
            return ArrowArrayData(length: n, nullCount: nulls, buffers: [bitmap, bits])
        case .string, .tagged:
            var offsets = [UInt8](repeating: 0, count: (n + 1) * 4)
            var data: [UInt8] = []
            for (i, v) in values.enumerated() {
                if let v { data += Array((kind == .tagged ? tag(v) : v.stringValue ?? "").utf8) }
                guard data.count <= Int(Int32.max) else {
                    throw VDBError.invalidArgument("metadata '\(key)': more than 2 GiB of text in one batch; use a smaller batch size")
                }
                offsets.withUnsafeMutableBytes { $0.storeBytes(of: Int32(data.count).littleEndian, toByteOffset: (i + 1) * 4, as: Int32.self) }
            }
            return ArrowArrayData(length: n, nullCount: nulls, buffers: [bitmap, offsets, data])
        }
    }

    /// A value as tagged text: "s:", "i:", "d:" or "b:" and the value.
    static func tag(_ v: MetadataValue) -> String {
        switch v {
        case .string(let s): return "s:" + s
        case .int(let i): return "i:\(i)"
        case .double(let d): return "d:\(d)"
        case .bool(let b): return b ? "b:true" : "b:false"
        }
    }
}

/// Decodes record batches of an Arrow table into vdb vectors, ids and metadata.
///
/// Columns: `id` (optional; any integer type, no negative values), `vector` (fixed-size list or
/// list of float32, float64 or float16), everything else metadata (strings, integers, floats,
/// booleans; nulls mean "no value").
struct VectorTableDecoder {
    let source: String
    let idColumn: Int?
    let vectorColumn: Int
    let dimension: Int
    /// (column index, metadata key, tagged).
    let metadataColumns: [(index: Int, key: String, tagged: Bool)]
    /// The schema's field types by column.
    let fieldTypes: [ArrowType]

    init(schema: ArrowSchema, source: String) throws {
        self.source = source
        fieldTypes = schema.fields.map(\.type)
        func bad(_ m: String) -> VDBError { .badInput(path: source, message: m) }
        guard let v = schema.fields.firstIndex(where: { $0.name == "vector" }) else {
            throw bad("no 'vector' column (columns: \(schema.fields.map(\.name).joined(separator: ", ")))")
        }
        vectorColumn = v
        switch schema.fields[v].type {
        case let .fixedSizeList(size, child):
            guard case .float = child.type else { throw bad("column 'vector' holds \(child.type), expected float32") }
            guard size > 0 else { throw bad("column 'vector' has list size 0") }
            dimension = size
        case let .list(child), let .largeList(child):
            guard case .float = child.type else { throw bad("column 'vector' holds \(child.type), expected float32") }
            dimension = ExchangeHeader(schemaMetadata: schema.metadata).dimension ?? 0  // else from the first row
        default:
            throw bad("column 'vector' has type \(schema.fields[v].type), expected a fixed-size list of float32")
        }
        idColumn = schema.fields.firstIndex { $0.name == "id" }
        if let i = idColumn {
            guard case .int = schema.fields[i].type else { throw bad("column 'id' has type \(schema.fields[i].type), expected an integer type") }
        }
        var meta: [(Int, String, Bool)] = []
        for (i, f) in schema.fields.enumerated() where i != vectorColumn && i != idColumn {
            switch f.type {
            case .int, .float, .bool, .utf8, .largeUtf8, .null: break
            default: throw bad("column '\(f.name)' has type \(f.type), which vdb metadata cannot hold (strings, integers, floats and booleans)")
            }
            meta.append((i, f.metadata["vdb.key"] ?? f.name, f.metadata["vdb.type"] == "tagged"))
        }
        metadataColumns = meta
    }

    private func bad(_ m: String) -> VDBError { .badInput(path: source, message: m) }

    /// Reads fixed-width little-endian value `i` of a buffer, checking bounds.
    private func load<T: FixedWidthInteger>(_ b: [UInt8], _ i: Int, _ type: T.Type, column: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard i >= 0, i < b.count / size else { throw bad("column '\(column)': buffer too short for value \(i)") }
        return T(littleEndian: b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * size, as: T.self) })
    }

    /// The batch's rows: ids (when the table has an id column), vectors row-major and metadata.
    func decode(length: Int, columns: [ArrowArrayData], firstRow: Int) throws -> (ids: [UInt64]?, vectors: [Float], metadata: [Metadata?], dimension: Int) {
        let n = length
        var ids: [UInt64]?
        if let c = idColumn {
            let a = columns[c]
            guard a.length == n, a.buffers.count == 2 else { throw bad("column 'id' has \(a.length) values in a batch of \(n) rows") }
            guard case let .int(bits, signed) = fieldTypes[c] else { throw bad("column 'id' is not an integer column") }
            var out = [UInt64](repeating: 0, count: n)
            for i in 0..<n {
                guard a.isValid(i) else { throw bad("row \(firstRow + i) has a null id") }
                let v: UInt64
                switch (bits, signed) {
                case (64, false): v = try load(a.buffers[1], i, UInt64.self, column: "id")
                case (64, true):
                    let s = try load(a.buffers[1], i, Int64.self, column: "id")
                    guard s >= 0 else { throw bad("row \(firstRow + i) has the negative id \(s)") }
                    v = UInt64(s)
                case (32, false): v = UInt64(try load(a.buffers[1], i, UInt32.self, column: "id"))
                case (32, true):
                    let s = try load(a.buffers[1], i, Int32.self, column: "id")
                    guard s >= 0 else { throw bad("row \(firstRow + i) has the negative id \(s)") }
                    v = UInt64(s)
                default: throw bad("column 'id' is int\(bits); use a 32- or 64-bit integer column")
                }
                out[i] = v
            }
            ids = out
        }
        let (vectors, d) = try decodeVectors(columns[vectorColumn], rows: n, firstRow: firstRow)
        var metadata = [Metadata?](repeating: nil, count: n)
        for (c, key, tagged) in metadataColumns {
            let a = columns[c]
            guard a.length == n else { throw bad("column '\(key)' has \(a.length) values in a batch of \(n) rows") }
            for i in 0..<n where a.isValid(i) {
                guard let v = try value(a, i, type: fieldTypes[c], key: key, tagged: tagged, row: firstRow + i) else { continue }
                if metadata[i] == nil { metadata[i] = [:] }
                metadata[i]![key] = v
            }
        }
        return (ids, vectors, metadata, d)
    }

    private func decodeVectors(_ a: ArrowArrayData, rows n: Int, firstRow: Int) throws -> ([Float], Int) {
        guard a.length == n, let child = a.children.first else { throw bad("column 'vector' has \(a.length) values in a batch of \(n) rows") }
        for i in 0..<n where !a.isValid(i) { throw bad("row \(firstRow + i) has no vector (null)") }
        let type = fieldTypes[vectorColumn]
        let elementType: ArrowType
        var d = dimension
        var starts: [Int]?  // value offsets of variable-size lists
        switch type {
        case let .fixedSizeList(_, f):
            elementType = f.type
        case let .list(f):
            elementType = f.type
            starts = try (0...n).map { Int(try load(a.buffers[1], $0, Int32.self, column: "vector")) }
        case let .largeList(f):
            elementType = f.type
            starts = try (0...n).map { Int(try load(a.buffers[1], $0, Int64.self, column: "vector")) }
        default:
            throw bad("column 'vector' has type \(type)")
        }
        if let s = starts {
            if d == 0, n > 0 { d = s[1] - s[0] }
            for i in 0..<n where s[i + 1] - s[i] != d {
                throw bad("row \(firstRow + i) has a \(s[i + 1] - s[i])-component vector, expected \(d)")
            }
        }
        guard d > 0 || n == 0 else { throw bad("vectors have 0 components") }
        let base = starts?.first ?? 0
        let count = n * d
        guard child.buffers.count == 2 else { throw bad("column 'vector' values have no data buffer") }
        let values = child.buffers[1]
        var out = [Float](repeating: 0, count: count)
        switch elementType {
        case .float(bits: 32):
            guard base >= 0, count <= values.count / 4 - base else { throw bad("column 'vector': data buffer too short") }
            out.withUnsafeMutableBytes { dst in
                values.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(base * 4)..<((base + count) * 4)])) }
            }
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
        case .float(bits: 64):
            for i in 0..<count { out[i] = Float(Double(bitPattern: try load(values, base + i, UInt64.self, column: "vector"))) }
        case .float(bits: 16):
            for i in 0..<count { out[i] = Float(Float16(bitPattern: try load(values, base + i, UInt16.self, column: "vector"))) }
        default:
            throw bad("column 'vector' holds \(elementType), expected float32")
        }
        if child.nullCount > 0 { throw bad("column 'vector' has null components") }
        return (out, d)
    }

    private func value(_ a: ArrowArrayData, _ i: Int, type: ArrowType, key: String, tagged: Bool, row: Int) throws -> MetadataValue? {
        switch type {
        case .null:
            return nil
        case let .int(bits, signed):
            let b = a.buffers[1]
            switch (bits, signed) {
            case (8, true): return .int(Int64(try load(b, i, Int8.self, column: key)))
            case (16, true): return .int(Int64(try load(b, i, Int16.self, column: key)))
            case (32, true): return .int(Int64(try load(b, i, Int32.self, column: key)))
            case (64, true): return .int(try load(b, i, Int64.self, column: key))
            case (8, false): return .int(Int64(try load(b, i, UInt8.self, column: key)))
            case (16, false): return .int(Int64(try load(b, i, UInt16.self, column: key)))
            case (32, false): return .int(Int64(try load(b, i, UInt32.self, column: key)))
            case (64, false):
                let u = try load(b, i, UInt64.self, column: key)
                guard u <= UInt64(Int64.max) else { throw bad("row \(row): '\(key)' is \(u), larger than a vdb integer (2^63 - 1)") }
                return .int(Int64(u))
            default: throw bad("column '\(key)' is int\(bits)")
            }
        case let .float(bits):
            let b = a.buffers[1]
            switch bits {
            case 64: return .double(Double(bitPattern: try load(b, i, UInt64.self, column: key)))
            case 32: return .double(Double(Float(bitPattern: try load(b, i, UInt32.self, column: key))))
            default: return .double(Double(Float(Float16(bitPattern: try load(b, i, UInt16.self, column: key)))))
            }
        case .bool:
            let b = a.buffers[1]
            guard i >> 3 < b.count else { throw bad("column '\(key)': buffer too short for value \(i)") }
            return .bool(b[i >> 3] & (1 << UInt8(i & 7)) != 0)
        case .utf8, .largeUtf8:
            let large = type == .largeUtf8
            let start = large ? Int(try load(a.buffers[1], i, Int64.self, column: key)) : Int(try load(a.buffers[1], i, Int32.self, column: key))
            let end = large ? Int(try load(a.buffers[1], i + 1, Int64.self, column: key)) : Int(try load(a.buffers[1], i + 1, Int32.self, column: key))
            let data = a.buffers[2]
            guard start >= 0, start <= end, end <= data.count else { throw bad("column '\(key)': string offsets out of range at row \(row)") }
            let s = String(decoding: data[start..<end], as: UTF8.self)
            return tagged ? try untag(s, key: key, row: row) : .string(s)
        default:
            throw bad("column '\(key)' has type \(type)")
        }
    }

    private func untag(_ s: String, key: String, row: Int) throws -> MetadataValue {
        let body = String(s.dropFirst(2))
        switch s.prefix(2) {
        case "s:": return .string(body)
        case "i:": if let i = Int64(body) { return .int(i) }
        case "d:": if let d = Double(body) { return .double(d) }
        case "b:": if body == "true" || body == "false" { return .bool(body == "true") }
        default: break
        }
        throw bad("row \(row): '\(key)' is not a tagged value (\"\(s.prefix(40))\")")
    }
}
