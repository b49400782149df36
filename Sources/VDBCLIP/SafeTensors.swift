import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    private let base: UnsafeMutableRawPointer
    private let size: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw CLIPError.io(path: path, problem: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CLIPError.io(path: path, problem: String(cString: strerror(errno))) }
        size = Int(st.st_size)
        guard size >= 8 else {
            throw CLIPError.corruptSafetensors(path: path, problem: "file is \(size) bytes, shorter than the 8-byte header length")
        }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw CLIPError.io(path: path, problem: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = m
        var headerLength: UInt64 = 0
        withUnsafeMutableBytes(of: &headerLength) { $0.copyMemory(from: UnsafeRawBufferPointer(start: m, count: 8)) }
        headerLength = UInt64(littleEndian: headerLength)
        guard headerLength > 1, headerLength <= UInt64(size - 8) else {
            munmap(m, size)
            throw CLIPError.corruptSafetensors(path: path, problem: "header length \(headerLength) does not fit in a \(size)-byte file")
        }
        let headerData = Data(bytes: m + 8, count: Int(headerLength))
        headerBytes = [UInt8](headerData)
        let dataStart = 8 + Int(headerLength)
        do {
            entries = try Self.parseHeader(headerData, dataStart: dataStart, fileSize: size, path: path)
        } catch {
            munmap(m, size)
            throw error
        }
    }

    deinit { munmap(base, size) }

    private static func parseHeader(_ data: Data, dataStart: Int, fileSize: Int, path: String) throws -> [String: Entry] {
        guard let json = try? JSONSerialization.jsonObject(with: data), let dict = json as? [String: Any] else {
            throw CLIPError.corruptSafetensors(path: path, problem: "header is not a JSON object")
        }
        var out: [String: Entry] = [:]
        for (name, value) in dict where name != "__metadata__" {
            guard let info = value as? [String: Any],
                  let dtype = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any],
                  let offsAny = info["data_offsets"] as? [Any], offsAny.count == 2 else {
                throw CLIPError.corruptSafetensors(path: path, problem: "header entry '\(name)' lacks dtype/shape/data_offsets")
            }
            let shape = try shapeAny.map { v -> Int in
                guard let n = (v as? NSNumber)?.intValue, n >= 0 else {
                    throw CLIPError.corruptSafetensors(path: path, problem: "tensor '\(name)' has a bad shape")
                }
                return n
            }
            guard let b = (offsAny[0] as? NSNumber)?.intValue, let e = (offsAny[1] as? NSNumber)?.intValue,
                  b >= 0, e >= b else {
                throw CLIPError.corruptSafetensors(path: path, problem: "tensor '\(name)' has bad data_offsets")
            }
            guard dataStart + e <= fileSize else {
                throw CLIPError.corruptSafetensors(path: path,
                    problem: "tensor '\(name)' ends at byte \(dataStart + e) but the file has \(fileSize) bytes (truncated?)")
            }
            let elementSize: Int
            switch dtype {
            case "F32", "I32", "U32": elementSize = 4
            case "F16", "BF16", "I16": elementSize = 2
            case "F64", "I64": elementSize = 8
            case "U8", "I8", "BOOL", "F8_E4M3", "F8_E5M2": elementSize = 1
            default: elementSize = 0
            }
            let count = shape.reduce(1, *)
            if elementSize > 0, count * elementSize != e - b {
                throw CLIPError.corruptSafetensors(path: path,
                    problem: "tensor '\(name)' has \(e - b) bytes for shape \(shape) of \(dtype)")
            }
            out[name] = Entry(dtype: dtype, shape: shape, begin: dataStart + b, end: dataStart + e)
        }
        return out
    }

    /// Reads tensor `name` as float32, checking its shape.
    func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
        guard let entry = entries[name] else { throw CLIPError.missingTensor(name: name) }
        // A [n] tensor stored as [1, n] or a scalar stored as [] / [1] is the same data.
        let same = entry.shape == expected
            || (entry.shape.filter { $0 != 1 } == expected.filter { $0 != 1 } && entry.shape.reduce(1, *) == expected.reduce(1, *))
        guard same else { throw CLIPError.tensorShape(name: name, expected: expected, found: entry.shape) }
        let count = expected.reduce(1, *)
        let storage = FloatStorage(count: count)
        let src = UnsafeRawPointer(base + entry.begin)
        let dst = storage.pointer
        switch entry.dtype {
        case "F32":
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case "F16":
            for i in 0..<count {
                let bits = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                dst[i] = Self.halfToFloat(UInt16(littleEndian: bits))
            }
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
    private func release(_ entry: Entry) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (entry.begin / page) * page
        let hi = min(size, ((entry.end + page - 1) / page) * page)
        if hi > lo { _ = madvise(base + lo, hi - lo, Int32(MADV_DONTNEED)) }
    }

    /// IEEE half -> float, including subnormals, infinities and NaN.
    @inline(__always)
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1f)
        let mant = UInt32(h & 0x3ff)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            let v = Float(mant) * 5.960464477539063e-08  // 2^-24
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | (UInt32(exp - 15 + 127) << 23) | (mant << 13))
    }

    /// A sample of the tensor bytes (first and last 4 KiB of the data) for fingerprints.
    func sampleBytes() -> [UInt8] {
        let start = 8 + headerBytes.count
        let n = min(4096, size - start)
        var out = [UInt8](UnsafeRawBufferPointer(start: base + start, count: n))
        out += [UInt8](UnsafeRawBufferPointer(start: base + (size - n), count: n))
        return out
    }
}
