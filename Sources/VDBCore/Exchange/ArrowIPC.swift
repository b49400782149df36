// Arrow IPC streaming format (arrow.apache.org/docs/format/Columnar.html#ipc-streaming-format),
// the subset vdb writes and reads: a Schema message, RecordBatch messages, the end-of-stream
// marker. Each message is `0xFFFFFFFF`, an i32 metadata length, a FlatBuffers `Message`
// (Message.fbs / Schema.fbs) padded to 8 bytes, then the body: the arrays' buffers, each padded
// to 8 bytes. No compression, no dictionaries, little-endian only.
#if canImport(Glibc)
import Glibc
private let systemRead = Glibc.read
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemRead = Darwin.read
private let systemWrite = Darwin.write
#endif

/// An Arrow data type (the ones vdb exchanges).
indirect enum ArrowType: Equatable, CustomStringConvertible {
    case null
    case int(bitWidth: Int, signed: Bool)
    /// 16, 32 or 64 bits.
    case float(bits: Int)
    case bool
    case utf8
    case largeUtf8
    case binary
    case largeBinary
    case list(ArrowField)
    case largeList(ArrowField)
    case fixedSizeList(size: Int, ArrowField)
    /// A type this reader does not decode (the Type union code), reported by name in errors.
    case other(code: UInt8)

    var description: String {
        switch self {
        case .null: return "null"
        case let .int(bits, signed): return (signed ? "int" : "uint") + "\(bits)"
        case let .float(bits): return bits == 16 ? "halffloat" : bits == 32 ? "float" : "double"
        case .bool: return "bool"
        case .utf8: return "string"
        case .largeUtf8: return "large_string"
        case .binary: return "binary"
        case .largeBinary: return "large_binary"
        case let .list(f): return "list<\(f.type)>"
        case let .largeList(f): return "large_list<\(f.type)>"
        case let .fixedSizeList(n, f): return "fixed_size_list<\(f.type)>[\(n)]"
        case let .other(code): return "Arrow type #\(code)"
        }
    }

    /// Buffers an array of this type has in IPC (validity first).
    var bufferCount: Int {
        switch self {
        case .null: return 0
        case .int, .float, .bool: return 2
        case .utf8, .largeUtf8, .binary, .largeBinary: return 3
        case .list, .largeList: return 2
        case .fixedSizeList: return 1
        case .other: return 0
        }
    }

    var children: [ArrowField] {
        switch self {
        case let .list(f), let .largeList(f), let .fixedSizeList(_, f): return [f]
        default: return []
        }
    }
}

/// A named column (or child of a nested column) with its custom metadata.
struct ArrowField: Equatable {
    var name: String
    var nullable: Bool
    var type: ArrowType
    var metadata: [String: String] = [:]
}

/// The columns of a stream and its custom metadata.
struct ArrowSchema: Equatable {
    var fields: [ArrowField]
    var metadata: [String: String] = [:]
}

/// One array of a record batch: `length` values, its IPC buffers (an empty validity buffer means
/// no nulls) and its children (the values of a list).
struct ArrowArrayData {
    var length: Int
    var nullCount: Int
    var buffers: [[UInt8]]
    var children: [ArrowArrayData] = []

    /// Whether value `i` is valid (not null).
    func isValid(_ i: Int) -> Bool {
        guard nullCount > 0, let bits = buffers.first, !bits.isEmpty else { return true }
        return bits[i >> 3] & (1 << UInt8(i & 7)) != 0
    }
}

// MARK: - byte streams

/// Where an Arrow stream is written: a file descriptor, written fully (retrying short writes).
final class FileDescriptorSink {
    let fd: Int32
    /// Named in error messages.
    let name: String
    private(set) var bytesWritten = 0

    init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ raw: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < raw.count {
            let n = systemWrite(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw VDBError.io(path: name, message: "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        bytesWritten += raw.count
    }
}

/// Where an Arrow stream is read from: a file descriptor, read in exact-size pieces.
final class FileDescriptorSource {
    let fd: Int32
    let name: String
    private(set) var bytesRead = 0

    init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    /// Exactly `n` bytes; nil when the stream ends before the first byte; an error when it
    /// ends in the middle.
    func read(_ n: Int) throws -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: n)
        var done = 0
        try out.withUnsafeMutableBytes { buf in
            while done < n {
                let r = systemRead(fd, buf.baseAddress! + done, n - done)
                if r < 0 {
                    if errno == EINTR { continue }
                    throw VDBError.io(path: name, message: "read failed: \(String(cString: strerror(errno)))")
                }
                if r == 0 { break }
                done += r
            }
        }
        bytesRead += done
        if done == 0 && n > 0 { return nil }
        guard done == n else {
            throw VDBError.badInput(path: name, message: "Arrow stream ends in the middle of a message (truncated?)")
        }
        return out
    }
}

// MARK: - writing

enum ArrowIPC {
    static let continuation: UInt32 = 0xFFFF_FFFF
    /// MetadataVersion.V5.
    static let metadataVersion: Int16 = 4
    /// Largest metadata and body vdb reads (a record batch this large should be split).
    static let maxMetadataBytes = 64 << 20
    static let maxBodyBytes = 2 << 30

    static func typeCode(_ t: ArrowType) -> UInt8 {
        switch t {
        case .null: return 1
        case .int: return 2
        case .float: return 3
        case .binary: return 4
        case .utf8: return 5
        case .bool: return 6
        case .list: return 12
        case .fixedSizeList: return 16
        case .largeBinary: return 19
        case .largeUtf8: return 20
        case .largeList: return 21
        case let .other(code): return code
        }
    }

    static func typeTable(_ t: ArrowType) -> FlatObject {
        switch t {
        case let .int(bits, signed): return .table([.int32(Int32(bits)), .bool(signed)])
        case let .float(bits): return .table([.int16(bits == 16 ? 0 : bits == 32 ? 1 : 2)])
        case let .fixedSizeList(n, _): return .table([.int32(Int32(n))])
        default: return .table([])
        }
    }

    static func keyValues(_ m: [String: String]) -> FlatField? {
        m.isEmpty ? nil : .object(.tables(m.keys.sorted().map { .table([.object(.string($0)), .object(.string(m[$0]!))]) }))
    }

    static func fieldObject(_ f: ArrowField) -> FlatObject {
        .table([
            .object(.string(f.name)), .bool(f.nullable), .uint8(typeCode(f.type)), .object(typeTable(f.type)),
            nil, .object(.tables(f.type.children.map(fieldObject))), keyValues(f.metadata),
        ])
    }

    static func message(headerType: UInt8, header: FlatObject, bodyLength: Int) -> [UInt8] {
        FlatBufferBuilder.build(root: .table([
            .int16(metadataVersion), .uint8(headerType), .object(header), .int64(Int64(bodyLength)),
        ]))
    }

    /// Frames one message: continuation, length, metadata (8-aligned), body.
    static func frame(_ metadata: [UInt8], body: [UInt8], into sink: FileDescriptorSink) throws {
        var head: [UInt8] = []
        withUnsafeBytes(of: continuation.littleEndian) { head += $0 }
        withUnsafeBytes(of: Int32(metadata.count).littleEndian) { head += $0 }
        try sink.write(head)
        try sink.write(metadata)
        if !body.isEmpty { try sink.write(body) }
    }
}

/// Writes the Arrow IPC streaming format: ``writeSchema(_:)`` once, ``writeBatch(length:columns:)``
/// any number of times, then ``finish()``.
final class ArrowStreamWriter {
    let sink: FileDescriptorSink
    private var schema: ArrowSchema?

    init(sink: FileDescriptorSink) { self.sink = sink }

    func writeSchema(_ schema: ArrowSchema) throws {
        self.schema = schema
        let header: FlatObject = .table([.int16(0), .object(.tables(schema.fields.map(ArrowIPC.fieldObject))),
                                         ArrowIPC.keyValues(schema.metadata)])
        try ArrowIPC.frame(ArrowIPC.message(headerType: 1, header: header, bodyLength: 0), body: [], into: sink)
    }

    /// Writes one record batch of `length` rows, one array per schema field.
    func writeBatch(length: Int, columns: [ArrowArrayData]) throws {
        var nodes: [UInt8] = [], buffers: [UInt8] = [], body: [UInt8] = []
        var nodeCount = 0, bufferCount = 0
        func add(_ a: ArrowArrayData) {
            withUnsafeBytes(of: Int64(a.length).littleEndian) { nodes += $0 }
            withUnsafeBytes(of: Int64(a.nullCount).littleEndian) { nodes += $0 }
            nodeCount += 1
            for b in a.buffers {
                withUnsafeBytes(of: Int64(body.count).littleEndian) { buffers += $0 }
                withUnsafeBytes(of: Int64(b.count).littleEndian) { buffers += $0 }
                bufferCount += 1
                body += b
                while body.count % 8 != 0 { body.append(0) }
            }
            for c in a.children { add(c) }
        }
        for c in columns { add(c) }
        let header: FlatObject = .table([
            .int64(Int64(length)),
            .object(.structs(count: nodeCount, alignment: 8, bytes: nodes)),
            .object(.structs(count: bufferCount, alignment: 8, bytes: buffers)),
        ])
        try ArrowIPC.frame(ArrowIPC.message(headerType: 3, header: header, bodyLength: body.count), body: body, into: sink)
    }

    /// Writes the end-of-stream marker.
    func finish() throws {
        var eos: [UInt8] = []
        withUnsafeBytes(of: ArrowIPC.continuation.littleEndian) { eos += $0 }
        eos += [0, 0, 0, 0]
        try sink.write(eos)
    }
}

// MARK: - reading

/// Reads the Arrow IPC streaming format (what `pyarrow.ipc.new_stream` writes).
final class ArrowStreamReader {
    let source: FileDescriptorSource
    private(set) var schema = ArrowSchema(fields: [])

    /// Reads up to and including the schema message.
    init(source: FileDescriptorSource) throws {
        self.source = source
        guard let first = try nextMessage() else {
            throw VDBError.badInput(path: source.name, message: "empty Arrow stream (no schema)")
        }
        guard first.headerType == 1, let header = first.header else {
            throw VDBError.badInput(path: source.name, message: "Arrow stream does not start with a schema (message type \(first.headerType))")
        }
        schema = try Self.decodeSchema(header)
    }

    /// The next record batch as (rows, one array per field), or nil at the end of the stream.
    func nextBatch() throws -> (length: Int, columns: [ArrowArrayData])? {
        while let m = try nextMessage() {
            switch m.headerType {
            case 3:
                guard let header = m.header else { throw bad("record batch without a header") }
                return try decodeBatch(header, body: m.body)
            case 2:
                throw bad("dictionary-encoded columns are not supported (decode them first, e.g. with pyarrow's cast)")
            case 1:
                throw bad("a second schema in one stream")
            default:
                throw bad("unsupported Arrow message type \(m.headerType)")
            }
        }
        return nil
    }

    private func bad(_ m: String) -> VDBError { .badInput(path: source.name, message: m) }

    private struct Message {
        var headerType: UInt8
        var header: FlatTable?
        var body: [UInt8]
    }

    private func nextMessage() throws -> Message? {
        guard let first = try source.read(4) else { return nil }  // a stream may end without the marker
        var length = Int32(littleEndian: first.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
        if UInt32(bitPattern: length) == ArrowIPC.continuation {
            guard let l = try source.read(4) else { throw bad("Arrow stream ends after a continuation marker") }
            length = Int32(littleEndian: l.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
        }
        if length == 0 { return nil }
        guard length > 0, Int(length) <= ArrowIPC.maxMetadataBytes else { throw bad("Arrow message metadata length \(length) is out of range") }
        guard let meta = try source.read(Int(length)) else { throw bad("Arrow stream ends before a message's metadata") }
        let root = try FlatBufferReader(bytes: meta, source: source.name).root()
        let version = try root.scalar(0, Int16.self, default: 0)
        guard version >= 3 else { throw bad("Arrow metadata version V\(version + 1) is too old (V4 or V5 needed)") }
        let headerType = try root.scalar(1, UInt8.self, default: 0)
        let bodyLength = try root.scalar(3, Int64.self, default: 0)
        guard bodyLength >= 0, bodyLength <= Int64(ArrowIPC.maxBodyBytes) else {
            throw bad("record batch body of \(bodyLength) bytes: vdb reads batches up to 2 GiB; write smaller batches")
        }
        var body: [UInt8] = []
        if bodyLength > 0 {
            guard let b = try source.read(Int(bodyLength)) else { throw bad("Arrow stream ends before a message body") }
            body = b
        }
        return Message(headerType: headerType, header: try root.table(2), body: body)
    }

    private static func keyValues(_ t: FlatTable, _ id: Int) throws -> [String: String] {
        var out: [String: String] = [:]
        for kv in try t.tables(id) { out[try kv.string(0) ?? ""] = try kv.string(1) ?? "" }
        return out
    }

    static func decodeSchema(_ t: FlatTable) throws -> ArrowSchema {
        let endianness = try t.scalar(0, Int16.self, default: 0)
        guard endianness == 0 else {
            throw VDBError.badInput(path: t.reader.source, message: "big-endian Arrow data is not supported")
        }
        return ArrowSchema(fields: try t.tables(1).map { try decodeField($0, depth: 0) }, metadata: try keyValues(t, 2))
    }

    static func decodeField(_ t: FlatTable, depth: Int) throws -> ArrowField {
        let name = try t.string(0) ?? ""
        guard depth < 8 else { throw VDBError.badInput(path: t.reader.source, message: "column '\(name)' is nested too deeply") }
        if try t.table(4) != nil {
            throw VDBError.badInput(path: t.reader.source, message: "column '\(name)' is dictionary-encoded; decode it first (pyarrow: cast to its value type)")
        }
        let code = try t.scalar(2, UInt8.self, default: 0)
        let typeTable = try t.table(3)
        let children = try t.tables(5).map { try decodeField($0, depth: depth + 1) }
        func child() throws -> ArrowField {
            guard let c = children.first else { throw VDBError.badInput(path: t.reader.source, message: "list column '\(name)' has no child field") }
            return c
        }
        let type: ArrowType
        switch code {
        case 1: type = .null
        case 2:
            type = .int(bitWidth: Int(try typeTable?.scalar(0, Int32.self, default: 0) ?? 0), signed: try typeTable?.bool(1) ?? false)
        case 3:
            let p = try typeTable?.scalar(0, Int16.self, default: 0) ?? 0
            type = .float(bits: p == 0 ? 16 : p == 1 ? 32 : 64)
        case 4: type = .binary
        case 5: type = .utf8
        case 6: type = .bool
        case 12: type = .list(try child())
        case 16: type = .fixedSizeList(size: Int(try typeTable?.scalar(0, Int32.self, default: 0) ?? 0), try child())
        case 19: type = .largeBinary
        case 20: type = .largeUtf8
        case 21: type = .largeList(try child())
        default: type = .other(code: code)
        }
        return ArrowField(name: name, nullable: try t.bool(1), type: type, metadata: try keyValues(t, 6))
    }

    private func decodeBatch(_ t: FlatTable, body: [UInt8]) throws -> (length: Int, columns: [ArrowArrayData]) {
        if try t.table(3) != nil { throw bad("compressed Arrow record batches are not supported; write without compression") }
        let length = try t.scalar(0, Int64.self, default: 0)
        guard length >= 0, length <= Int64(Int32.max) else { throw bad("record batch length \(length) is out of range") }
        let r = t.reader
        let (nodeStart, nodeCount) = try t.structs(1, stride: 16)
        let (bufStart, bufCount) = try t.structs(2, stride: 16)
        var nodeIndex = 0, bufIndex = 0
        func take(_ field: ArrowField) throws -> ArrowArrayData {
            if case .other = field.type { throw bad("column '\(field.name)' has \(field.type), which vdb does not read") }
            guard nodeIndex < nodeCount else { throw bad("record batch has fewer field nodes than the schema has fields") }
            let np = nodeStart + 16 * nodeIndex
            nodeIndex += 1
            let n = try r.read(Int64.self, at: np), nulls = try r.read(Int64.self, at: np + 8)
            guard n >= 0, n <= Int64(Int32.max), nulls >= 0, nulls <= n else { throw bad("column '\(field.name)': bad length \(n) / null count \(nulls)") }
            var buffers: [[UInt8]] = []
            for _ in 0..<field.type.bufferCount {
                guard bufIndex < bufCount else { throw bad("record batch has fewer buffers than its columns need") }
                let bp = bufStart + 16 * bufIndex
                bufIndex += 1
                let off = try r.read(Int64.self, at: bp), len = try r.read(Int64.self, at: bp + 8)
                guard off >= 0, len >= 0, off <= Int64(body.count), len <= Int64(body.count) - off else {
                    throw bad("column '\(field.name)': buffer [\(off), +\(len)) lies outside the \(body.count)-byte body")
                }
                buffers.append(Array(body[Int(off)..<Int(off + len)]))
            }
            let children = try field.type.children.map(take)
            return ArrowArrayData(length: Int(n), nullCount: Int(nulls), buffers: buffers, children: children)
        }
        let columns = try schema.fields.map(take)
        return (Int(length), columns)
    }
}
