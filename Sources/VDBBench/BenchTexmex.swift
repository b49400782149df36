import Foundation
import VDBCore

// TEXMEX vector files (http://corpus-texmex.irisa.fr/): every record is a little-endian int32
// dimension `d` followed by `d` components: float32 in `.fvecs`, int32 in `.ivecs`. The benchmark
// harness writes them for the synthetic datasets it generates and for the ids a sweep returned;
// reading goes through ``VectorFiles``.

/// Writers for TEXMEX `.fvecs` and `.ivecs` files.
enum BenchTexmex {
    /// Writes `vectors` as `.fvecs`.
    static func writeFvecs(_ vectors: BenchVectors, to path: String) throws(BenchError) {
        var out = [UInt8]()
        out.reserveCapacity(vectors.count * (4 + 4 * vectors.dimension))
        for r in 0 ..< vectors.count {
            append(UInt32(truncatingIfNeeded: vectors.dimension), to: &out)
            for x in vectors.data[r * vectors.dimension ..< (r + 1) * vectors.dimension] { append(x.bitPattern, to: &out) }
        }
        try write(out, to: path)
    }

    /// Writes `rows` as `.ivecs`.
    static func writeIvecs(_ rows: BenchNeighborRows, to path: String) throws(BenchError) {
        var out = [UInt8]()
        out.reserveCapacity(rows.count * (4 + 4 * rows.width))
        for r in 0 ..< rows.count {
            append(UInt32(truncatingIfNeeded: rows.width), to: &out)
            for x in rows.row(r) { append(UInt32(bitPattern: x), to: &out) }
        }
        try write(out, to: path)
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
