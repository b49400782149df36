import Foundation
import VDBSupport

/// Float32 storage owned by the model (converted from the checkpoint's dtype at load time).
///
/// Written only while loading, read-only afterwards: that is what makes sharing it across threads
/// safe, hence `@unchecked Sendable`.
final class FloatStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        // Left uninitialized: every creator overwrites all `count` floats before any read.
        pointer = .allocate(capacity: max(count, 1))
    }

    deinit { pointer.deallocate() }

    var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }
}

/// A weight tensor as float32: `shape` plus a view into a `FloatStorage`.
struct Tensor: Sendable {
    let shape: [Int]
    let storage: FloatStorage
    var pointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }
    var count: Int { storage.count }
}

/// A read-only, memory-mapped `.safetensors` file.
///
/// Layout: 8-byte little-endian header length N, N bytes of JSON (`name -> {dtype, shape,
/// data_offsets}` plus an optional `__metadata__`), then the raw little-endian tensor bytes.
/// Tensors are converted to float32 on demand (`F32`, `F16`, `BF16`); after a tensor has been
/// converted its source pages are released from the process (`MADV_DONTNEED`) so loading a
/// checkpoint peaks at about the size of the float32 weights, not twice that.
final class SafeTensorsFile {
    struct Entry {
        let dtype: String
        let shape: [Int]
        let begin: Int  // absolute byte offset in the file
        let end: Int
    }

    let path: String
    let entries: [String: Entry]
    /// The raw JSON header bytes (used for the model fingerprint).
    let headerBytes: [UInt8]
    private let file: MappedFile
    private var base: UnsafeRawPointer { file.bytes.baseAddress! }  // non-nil: the file has at least 8 bytes
    private var size: Int { file.bytes.count }

    init(path: String) throws {
        self.path = path
        do { file = try MappedFile(path: path) } catch {
            throw CLIPError.unreadableFile(path: path, reason: error.reason)
        }
        let size = file.bytes.count
        guard size >= 8 else {
            throw CLIPError.corruptSafetensors(path: path, problem: "file is \(size) bytes, shorter than the 8-byte header length")
        }
        let m = file.bytes.baseAddress!
        let headerLength = UInt64(littleEndian: m.loadUnaligned(as: UInt64.self))
        guard headerLength > 1, headerLength <= UInt64(size - 8) else {
            throw CLIPError.corruptSafetensors(path: path, problem: "header length \(headerLength) does not fit in a \(size)-byte file")
        }
        let headerData = Data(bytes: m + 8, count: Int(headerLength))
        headerBytes = [UInt8](headerData)
        let dataStart = 8 + Int(headerLength)
        entries = try Self.parseHeader(headerData, dataStart: dataStart, fileSize: size, path: path)
    }

    /// One header entry as written in the file. Decoding as `[Int]` refuses fractional numbers,
    /// booleans, strings and integers beyond Int64.
    private struct RawEntry: Decodable {
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]
    }

    private struct HeaderKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The tensor entries of a header (every key but `__metadata__`), decoded one by one so a bad
    /// entry is reported by name.
    private struct RawHeader: Decodable {
        var entries: [String: RawEntry] = [:]
        struct BadEntry: Error { let name: String; let underlying: any Error }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: HeaderKey.self)
            for key in c.allKeys where key.stringValue != "__metadata__" {
                do { entries[key.stringValue] = try c.decode(RawEntry.self, forKey: key) } catch {
                    throw BadEntry(name: key.stringValue, underlying: error)
                }
            }
        }
    }

    private static func parseHeader(_ data: Data, dataStart: Int, fileSize: Int, path: String) throws -> [String: Entry] {
        func corrupt(_ problem: String) -> CLIPError { .corruptSafetensors(path: path, problem: problem) }
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: data)
        } catch let e as RawHeader.BadEntry {
            let rule = "(dtype must be a string; shape and data_offsets lists of non-negative integers)"
            let detail: String
            switch e.underlying {
            case DecodingError.keyNotFound(let key, _): detail = "lacks '\(key.stringValue)'"
            case DecodingError.typeMismatch(_, let ctx), DecodingError.dataCorrupted(let ctx), DecodingError.valueNotFound(_, let ctx):
                let field = ctx.codingPath.last { $0.intValue == nil }?.stringValue ?? "entry"
                detail = "has a bad '\(field)' \(rule): \(ctx.debugDescription)"
            default: detail = "is malformed \(rule): \(e.underlying)"  // e.g. 2.5 or 2^64 where an Int belongs
            }
            throw corrupt("header entry '\(e.name)' \(detail)")
        } catch {
            throw corrupt("header is not a JSON object of tensor entries")
        }
        var out: [String: Entry] = [:]
        let dataSize = fileSize - dataStart
        for (name, info) in raw.entries {
            guard let count = elementCount(info.shape) else {
                throw corrupt("tensor '\(name)' has shape \(info.shape): dimensions must be non-negative and their product must fit in 64 bits")
            }
            guard info.data_offsets.count == 2, info.data_offsets[0] >= 0, info.data_offsets[1] >= info.data_offsets[0] else {
                throw corrupt("tensor '\(name)' has data_offsets \(info.data_offsets); expected [begin, end] with 0 <= begin <= end")
            }
            let b = info.data_offsets[0], e = info.data_offsets[1]
            guard e <= dataSize else {
                throw corrupt("tensor '\(name)' ends at data byte \(e) but the file has \(dataSize) data bytes (truncated?)")
            }
            let elementSize: Int
            switch info.dtype {
            case "F32", "I32", "U32": elementSize = 4
            case "F16", "BF16", "I16": elementSize = 2
            case "F64", "I64": elementSize = 8
            case "U8", "I8", "BOOL", "F8_E4M3", "F8_E5M2": elementSize = 1
            default: elementSize = 0
            }
            if elementSize > 0 {
                let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
                guard !overflow else {
                    throw corrupt("tensor '\(name)' has shape \(info.shape) of \(info.dtype): its byte size must fit in 64 bits")
                }
                guard bytes == e - b else {
                    throw corrupt("tensor '\(name)' has \(e - b) bytes for shape \(info.shape) of \(info.dtype)")
                }
            }
            out[name] = Entry(dtype: info.dtype, shape: info.shape, begin: dataStart + b, end: dataStart + e)
        }
        return out
    }

    /// The number of elements of `shape`, or nil when a dimension is negative or the product
    /// overflows (hostile headers such as [2^40, 2^40] or [2^31, 2^31, 4]).
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// Reads tensor `name` as float32, checking its shape.
    func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
        guard let entry = entries[name] else { throw CLIPError.missingTensor(name: name) }
        // A [n] tensor stored as [1, n] or a scalar stored as [] / [1] is the same data.
        // (Counts are checked: `expected` comes from config.json, which may be hostile too.)
        guard let count = Self.elementCount(expected),
              entry.shape == expected || (entry.shape.filter { $0 != 1 } == expected.filter { $0 != 1 }
                                          && Self.elementCount(entry.shape) == count) else {
            throw CLIPError.tensorShape(name: name, expected: expected, found: entry.shape)
        }
        let storage = FloatStorage(count: count)
        let src = UnsafeRawPointer(base + entry.begin)
        let dst = storage.pointer
        switch entry.dtype {
        case "F32":
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case "F16":
            convertHalfToFloat(src, count: count, to: dst)
        case "BF16":
            for i in 0..<count {
                let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                dst[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        default:
            throw CLIPError.tensorDType(name: name, dtype: entry.dtype)
        }
        release(entry)
        return Tensor(shape: expected, storage: storage)
    }

    /// Drops the pages of a converted tensor from this process (they are file-backed and clean).
    private func release(_ entry: Entry) { file.dropPages(entry.begin..<entry.end) }

    /// A sample of the tensor bytes (first and last 4 KiB of the data) for fingerprints.
    func sampleBytes() -> [UInt8] {
        let start = 8 + headerBytes.count
        let n = min(4096, size - start)
        var out = [UInt8](UnsafeRawBufferPointer(start: base + start, count: n))
        out += [UInt8](UnsafeRawBufferPointer(start: base + (size - n), count: n))
        return out
    }
}
