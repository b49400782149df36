// Readers for the vector file formats vdb imports and searches with:
//   .fvecs / .ivecs / .bvecs  TEXMEX: per record an int32 dimension, then that many float32 / int32 / uint8
//   .npy                      NumPy 2-D array, float32 or float16, C order, little endian
//   .jsonl                    one JSON object per line: {"id": 7, "vector": [..], "metadata": {..}}
// Binary formats are memory-mapped and decoded chunk by chunk; JSONL is streamed line by line.
import Foundation
import VDBSupport

/// A file format vdb reads vectors from.
public enum VectorFileFormat: String, Sendable, CaseIterable {
    case fvecs, ivecs, bvecs, npy, jsonl

    /// The format implied by the file extension (`.jsonl` and `.ndjson` are JSONL).
    public init(path: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        switch ext {
        case "fvecs": self = .fvecs
        case "ivecs": self = .ivecs
        case "bvecs": self = .bvecs
        case "npy": self = .npy
        case "jsonl", "ndjson": self = .jsonl
        default:
            throw VDBError.badInput(path: path, message: "unknown vector file extension '.\(ext)' (expected .fvecs, .ivecs, .bvecs, .npy or .jsonl)")
        }
    }
}

/// A run of consecutive vectors read from a file.
public struct VectorChunk: Sendable {
    /// Components per vector.
    public var dimension: Int
    /// `count * dimension` floats, row-major.
    public var vectors: [Float]
    /// Ids from the file (JSONL records with an `"id"`), else nil.
    public var ids: [UInt64]?
    /// Metadata from the file (JSONL), one per vector, else nil.
    public var metadata: [Metadata?]?
    /// Number of vectors.
    public var count: Int { dimension == 0 ? 0 : vectors.count / dimension }
}

/// Reads a vector file sequentially, a chunk at a time.
public protocol VectorFileReader: AnyObject {
    /// Components per vector.
    var dimension: Int { get }
    /// Total number of vectors when known without reading the whole file (binary formats).
    var count: Int? { get }
    /// Fraction of the file consumed so far, 0...1 (for progress bars).
    var progress: Double { get }
    /// The next up to `maxCount` vectors, or nil at the end of the file.
    func next(maxCount: Int) throws -> VectorChunk?
}

/// Entry points for reading vector files.
public enum VectorFiles {
    /// Opens `path` with the reader for its extension.
    public static func open(_ path: String) throws -> any VectorFileReader {
        switch try VectorFileFormat(path: path) {
        case .fvecs: return try TexmexReader(path: path, element: .float32)
        case .ivecs: return try TexmexReader(path: path, element: .int32)
        case .bvecs: return try TexmexReader(path: path, element: .uint8)
        case .npy: return try NpyReader(path: path)
        case .jsonl: return try JSONLReader(path: path)
        }
    }

    /// Reads a whole file into one chunk.
    public static func readAll(_ path: String) throws -> VectorChunk {
        let reader = try open(path)
        var all = VectorChunk(dimension: reader.dimension, vectors: [], ids: nil, metadata: nil)
        if let c = reader.count { all.vectors.reserveCapacity(c * reader.dimension) }
        var first = true
        while let c = try reader.next(maxCount: 65536) {
            all.vectors += c.vectors
            if first { all.ids = c.ids; all.metadata = c.metadata; first = false } else {
                if let i = c.ids { all.ids = (all.ids ?? []) + i }
                if let m = c.metadata { all.metadata = (all.metadata ?? []) + m }
            }
        }
        return all
    }

    /// Reads an `.ivecs` file (e.g. ground truth) as rows of int32.
    public static func readIvecs(_ path: String) throws -> [[Int32]] {
        let r = try TexmexReader(path: path, element: .int32)
        return try r.readInt32Rows()
    }
}

// MARK: - memory-mapped file

extension MappedFile {
    /// Maps a vector file for sequential reading; a failure is `VDBError.io` naming the file.
    static func vectorFile(_ path: String) throws -> MappedFile {
        do { return try MappedFile(path: path, sequential: true) } catch {
            throw VDBError.io(path: path, message: error.reason)
        }
    }
}

// MARK: - TEXMEX (.fvecs, .ivecs, .bvecs)

final class TexmexReader: VectorFileReader {
    enum Element { case float32, int32, uint8
        var size: Int { self == .uint8 ? 1 : 4 }
    }
    let file: MappedFile
    let element: Element
    let dimension: Int
    let count: Int?
    private let recordBytes: Int
    private var index = 0

    init(path: String, element: Element) throws {
        file = try MappedFile.vectorFile(path)
        self.element = element
        let b = file.bytes
        guard b.count >= 4 else { throw VDBError.badInput(path: path, message: "file is empty or shorter than one record header") }
        let d = Int(Int32(littleEndian: b.loadUnaligned(as: Int32.self)))
        guard d > 0, d <= 1 << 20 else { throw VDBError.badInput(path: path, message: "first record has dimension \(d)") }
        dimension = d
        recordBytes = 4 + d * element.size
        guard b.count % recordBytes == 0 else {
            throw VDBError.badInput(path: path, message: "file size \(b.count) is not a whole number of \(d)-d records of \(recordBytes) bytes (truncated?)")
        }
        count = b.count / recordBytes
    }

    var progress: Double { count.map { $0 == 0 ? 1 : Double(index) / Double($0) } ?? 0 }

    func next(maxCount: Int) throws -> VectorChunk? {
        let total = count ?? 0
        guard index < total else { return nil }
        let n = min(maxCount, total - index)
        let d = dimension
        var out = [Float](repeating: 0, count: n * d)
        let b = file.bytes
        try out.withUnsafeMutableBufferPointer { dst in
            for r in 0..<n {
                let off = (index + r) * recordBytes
                let rd = Int(Int32(littleEndian: b.loadUnaligned(fromByteOffset: off, as: Int32.self)))
                guard rd == d else {
                    throw VDBError.badInput(path: file.path, message: "record \(index + r) has dimension \(rd), expected \(d)")
                }
                let src = b.baseAddress! + off + 4
                let row = dst.baseAddress! + r * d
                switch element {
                case .float32:
                    UnsafeMutableRawPointer(row).copyMemory(from: src, byteCount: d * 4)
                case .int32:
                    for j in 0..<d { row[j] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: j * 4, as: Int32.self))) }
                case .uint8:
                    for j in 0..<d { row[j] = Float(src.load(fromByteOffset: j, as: UInt8.self)) }
                }
            }
        }
        index += n
        return VectorChunk(dimension: d, vectors: out, ids: nil, metadata: nil)
    }

    func readInt32Rows() throws -> [[Int32]] {
        let d = dimension, b = file.bytes
        return try (0..<(count ?? 0)).map { r in
            let off = r * recordBytes
            let rd = Int(Int32(littleEndian: b.loadUnaligned(fromByteOffset: off, as: Int32.self)))
            guard rd == d else { throw VDBError.badInput(path: file.path, message: "record \(r) has dimension \(rd), expected \(d)") }
            return (0..<d).map { Int32(littleEndian: b.loadUnaligned(fromByteOffset: off + 4 + $0 * 4, as: Int32.self)) }
        }
    }
}

// MARK: - NumPy .npy

final class NpyReader: VectorFileReader {
    let file: MappedFile
    let dimension: Int
    let count: Int?
    private let dataOffset: Int
    private let half: Bool
    private var index = 0

    init(path: String) throws {
        file = try MappedFile.vectorFile(path)
        let b = file.bytes
        func bad(_ m: String) -> VDBError { .badInput(path: path, message: m) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard b.count >= 10, Array(b[0..<6]) == magic else { throw bad("not a NumPy .npy file (bad magic)") }
        let major = b[6]
        let headerLen: Int, headerStart: Int
        if major == 1 {
            headerLen = Int(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt16.self))); headerStart = 10
        } else if major == 2 || major == 3 {
            guard b.count >= 12 else { throw bad("truncated .npy header") }
            headerLen = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt32.self))); headerStart = 12
        } else { throw bad("unsupported .npy version \(major)") }
        guard headerStart + headerLen <= b.count else { throw bad("truncated .npy header") }
        let header = String(decoding: UnsafeRawBufferPointer(rebasing: b[headerStart..<(headerStart + headerLen)]), as: UTF8.self)
        func field(_ name: String) -> String? {
            guard let r = header.range(of: "'\(name)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr") else { throw bad("no 'descr' in .npy header") }
        if descr.hasPrefix("'<f4'") || descr.hasPrefix("'=f4'") { half = false }
        else if descr.hasPrefix("'<f2'") || descr.hasPrefix("'=f2'") { half = true }
        else {
            let t = descr.split(separator: ",").first.map(String.init) ?? descr
            throw bad("unsupported dtype \(t): vdb reads little-endian float32 ('<f4') or float16 ('<f2')")
        }
        guard let fo = field("fortran_order") else { throw bad("no 'fortran_order' in .npy header") }
        if fo.hasPrefix("True") { throw bad("Fortran-order arrays are not supported; save with np.ascontiguousarray") }
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("),
              let close = shapeField.firstIndex(of: ")") else { throw bad("no 'shape' in .npy header") }
        let dims = shapeField[shapeField.index(after: open)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard dims.count == 2, let n = Int(dims[0]), let d = Int(dims[1]) else {
            throw bad("expected a 2-D array (vectors x dimension), got shape (\(dims.joined(separator: ", ")))")
        }
        guard d > 0 else { throw bad("dimension is 0") }
        dataOffset = headerStart + headerLen
        let need = n * d * (half ? 2 : 4)
        guard b.count - dataOffset >= need else {
            throw bad("file holds \(b.count - dataOffset) data bytes, shape (\(n), \(d)) needs \(need) (truncated?)")
        }
        dimension = d
        count = n
    }

    var progress: Double { count.map { $0 == 0 ? 1 : Double(index) / Double($0) } ?? 0 }

    func next(maxCount: Int) throws -> VectorChunk? {
        let total = count ?? 0
        guard index < total else { return nil }
        let n = min(maxCount, total - index), d = dimension
        var out = [Float](repeating: 0, count: n * d)
        let src = file.bytes.baseAddress! + dataOffset
        out.withUnsafeMutableBufferPointer { dst in
            if half {
                convertHalfToFloat(src + index * d * 2, count: n * d, to: dst.baseAddress!)
            } else {
                UnsafeMutableRawPointer(dst.baseAddress!).copyMemory(from: src + index * d * 4, byteCount: n * d * 4)
            }
        }
        index += n
        return VectorChunk(dimension: d, vectors: out, ids: nil, metadata: nil)
    }
}

// MARK: - JSONL

/// One JSONL record: `{"id": 7, "vector": [...], "metadata": {...}}` (`id` and `metadata` optional).
struct JSONLRecord: Decodable {
    var id: UInt64?
    var vector: [Float]
    var metadata: [String: MetadataValue]?
}

extension MetadataValue: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "metadata values must be strings, numbers or booleans")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .bool(let b): try c.encode(b)
        }
    }
}

final class JSONLReader: VectorFileReader {
    let path: String
    private let handle: FileHandle
    private let fileSize: Int
    private var consumed = 0
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    private var eof = false
    private var lineNumber = 0
    private var pending: JSONLRecord?
    private var pendingLine = 0
    private var hasIDs = false
    private var dimensionStorage = 0
    var dimension: Int { dimensionStorage }
    var count: Int? { nil }
    private let decoder = JSONDecoder()

    init(path: String) throws {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw VDBError.io(path: path, message: "no such file")
        }
        guard let h = FileHandle(forReadingAtPath: path) else { throw VDBError.io(path: path, message: "cannot open for reading") }
        handle = h
        fileSize = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        guard let first = try nextRecord() else { throw VDBError.badInput(path: path, message: "no JSON records in the file") }
        guard !first.vector.isEmpty else { throw VDBError.badInput(path: path, message: "line \(lineNumber): empty \"vector\"") }
        pending = first
        pendingLine = lineNumber
        hasIDs = first.id != nil
        dimensionStorage = first.vector.count
    }

    deinit { try? handle.close() }

    var progress: Double { fileSize == 0 ? 1 : min(1, Double(consumed) / Double(fileSize)) }

    /// Next non-blank line as bytes, or nil at end of file.
    private func nextLine() throws -> ArraySlice<UInt8>? {
        while true {
            if let nl = buffer[bufferStart...].firstIndex(of: 0x0A) {
                let line = buffer[bufferStart..<nl]
                consumed += nl + 1 - bufferStart
                bufferStart = nl + 1
                lineNumber += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                return line
            }
            if eof {
                if bufferStart < buffer.count {
                    let line = buffer[bufferStart...]
                    consumed += buffer.count - bufferStart
                    bufferStart = buffer.count
                    lineNumber += 1
                    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return nil }
                    return line
                }
                return nil
            }
            let data: Data
            do { data = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw VDBError.io(path: path, message: "read failed: \(error.localizedDescription)")
            }
            if data.isEmpty { eof = true }
            buffer.removeFirst(bufferStart)
            bufferStart = 0
            buffer.append(contentsOf: data)
        }
    }

    private func nextRecord() throws -> JSONLRecord? {
        guard let line = try nextLine() else { return nil }
        do {
            return try decoder.decode(JSONLRecord.self, from: Data(line))
        } catch let DecodingError.keyNotFound(key, _) {
            throw VDBError.badInput(path: path, message: "line \(lineNumber): missing \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.dataCorrupted(ctx) {
            let where_ = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw VDBError.badInput(path: path, message: "line \(lineNumber): invalid JSON\(where_.isEmpty ? "" : " at \(where_)"): \(ctx.debugDescription)")
        } catch {
            throw VDBError.badInput(path: path, message: "line \(lineNumber): invalid JSON record")
        }
    }

    func next(maxCount: Int) throws -> VectorChunk? {
        let d = dimensionStorage
        var vectors: [Float] = []
        vectors.reserveCapacity(maxCount * d)
        var ids: [UInt64] = []
        var metas: [Metadata?] = []
        var anyMeta = false
        while metas.count < maxCount {
            let rec: JSONLRecord
            let line: Int
            if let p = pending { rec = p; line = pendingLine; pending = nil } else {
                guard let r = try nextRecord() else { break }
                rec = r; line = lineNumber
            }
            guard rec.vector.count == d else {
                throw VDBError.badInput(path: path, message: "line \(line): vector has \(rec.vector.count) components, expected \(d)")
            }
            if (rec.id != nil) != hasIDs {
                throw VDBError.badInput(path: path, message: "line \(line): either every record has an \"id\" or none does")
            }
            vectors += rec.vector
            if let id = rec.id { ids.append(id) }
            metas.append(rec.metadata)
            if rec.metadata != nil { anyMeta = true }
        }
        if metas.isEmpty { return nil }
        return VectorChunk(dimension: d, vectors: vectors, ids: hasIDs ? ids : nil, metadata: anyMeta ? metas : nil)
    }
}
