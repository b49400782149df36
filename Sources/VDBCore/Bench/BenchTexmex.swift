import Foundation

// TEXMEX vector files (http://corpus-texmex.irisa.fr/): every record is a little-endian int32
// dimension `d` followed by `d` components: float32 in `.fvecs`, int32 in `.ivecs`, uint8 in
// `.bvecs`. The benchmark harness reads `.bvecs` (SIFT1B-style byte vectors, widened to Float) and
// writes `.fvecs`/`.ivecs` for the synthetic datasets it generates.

/// Readers and writers for TEXMEX `.fvecs`, `.ivecs` and `.bvecs` files.
public enum BenchTexmex {
    /// Component type of a TEXMEX file.
    public enum Element: Sendable {
        case float32, int32, uint8
        var size: Int { self == .uint8 ? 1 : 4 }
    }

    /// Reads a whole `.fvecs` file. `limit` stops after that many vectors.
    public static func readFvecs(_ path: String, limit: Int? = nil) throws(BenchError) -> BenchVectors {
        let (d, raw) = try read(path, element: .float32, limit: limit)
        return try BenchVectors(dimension: d, data: raw.withUnsafeBytes { b in
            (0 ..< raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        })
    }

    /// Reads a whole `.bvecs` file (uint8 components), widening each component to Float.
    public static func readBvecs(_ path: String, limit: Int? = nil) throws(BenchError) -> BenchVectors {
        let (d, raw) = try read(path, element: .uint8, limit: limit)
        return try BenchVectors(dimension: d, data: raw.map { Float($0) })
    }

    /// Reads a whole `.ivecs` file as neighbour rows (ground truth).
    public static func readIvecs(_ path: String, limit: Int? = nil) throws(BenchError) -> BenchNeighborRows {
        let (d, raw) = try read(path, element: .int32, limit: limit)
        return try BenchNeighborRows(width: d, ids: raw.withUnsafeBytes { b in
            (0 ..< raw.count / 4).map { Int32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
        })
    }

    /// Writes `vectors` as `.fvecs`.
    public static func writeFvecs(_ vectors: BenchVectors, to path: String) throws(BenchError) {
        var out = [UInt8]()
        out.reserveCapacity(vectors.count * (4 + 4 * vectors.dimension))
        for r in 0 ..< vectors.count {
            append(UInt32(truncatingIfNeeded: vectors.dimension), to: &out)
            for x in vectors.data[r * vectors.dimension ..< (r + 1) * vectors.dimension] { append(x.bitPattern, to: &out) }
        }
        try write(out, to: path)
    }

    /// Writes `rows` as `.ivecs`.
    public static func writeIvecs(_ rows: BenchNeighborRows, to path: String) throws(BenchError) {
        var out = [UInt8]()
        out.reserveCapacity(rows.count * (4 + 4 * rows.width))
        for r in 0 ..< rows.count {
            append(UInt32(truncatingIfNeeded: rows.width), to: &out)
            for x in rows.row(r) { append(UInt32(bitPattern: x), to: &out) }
        }
        try write(out, to: path)
    }

    /// Reads the records of a TEXMEX file, checks that all share one dimension, and returns that
    /// dimension and the concatenated component bytes (headers stripped).
    static func read(_ path: String, element: Element, limit: Int?) throws(BenchError) -> (Int, [UInt8]) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw .io(path: path, reason: "cannot read file (\(error.localizedDescription))")
        }
        guard data.count >= 4 else { throw .corruptFile(path: path, reason: "file is empty or shorter than one header") }
        let d = data.withUnsafeBytes { Int(Int32(littleEndian: $0.loadUnaligned(as: Int32.self))) }
        guard d > 0, d <= 1 << 20 else { throw .corruptFile(path: path, reason: "first record has dimension \(d)") }
        let recordBytes = 4 + d * element.size
        guard data.count % recordBytes == 0 else {
            throw .corruptFile(path: path, reason: "size \(data.count) bytes is not a multiple of the record size \(recordBytes) for dimension \(d)")
        }
        var n = data.count / recordBytes
        if let limit { n = min(n, max(0, limit)) }
        var out = [UInt8](repeating: 0, count: n * d * element.size)
        let rowBytes = d * element.size
        var bad: (Int, Int)? = nil
        data.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                for r in 0 ..< n {
                    let h = Int(Int32(littleEndian: src.loadUnaligned(fromByteOffset: r * recordBytes, as: Int32.self)))
                    if h != d { bad = (r, h); return }
                    dst.baseAddress!.advanced(by: r * rowBytes)
                        .copyMemory(from: src.baseAddress!.advanced(by: r * recordBytes + 4), byteCount: rowBytes)
                }
            }
        }
        if let (r, h) = bad {
            throw .corruptFile(path: path, reason: "record \(r) has dimension \(h), expected \(d) like the first record")
        }
        return (d, out)
    }

    @inline(__always)
    static func append(_ v: UInt32, to out: inout [UInt8]) {
        let le = v.littleEndian
        out.append(UInt8(truncatingIfNeeded: le)); out.append(UInt8(truncatingIfNeeded: le >> 8))
        out.append(UInt8(truncatingIfNeeded: le >> 16)); out.append(UInt8(truncatingIfNeeded: le >> 24))
    }

    static func write(_ bytes: [UInt8], to path: String) throws(BenchError) {
        do { try Data(bytes).write(to: URL(fileURLWithPath: path)) } catch {
            throw .io(path: path, reason: "cannot write file (\(error.localizedDescription))")
        }
    }
}
