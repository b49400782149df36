import COpenBLAS
import CVDBKernels

/// Inner products of query rows with a block of stored rows, C[m, n] = Q[m, d] X[n, d]^T (row
/// stride n): the product exact batch search and the grouped IVF_FLAT scan both select from.
///
/// On AVX-512 it runs vdb's packed GEMM (`vdb_gemm`): `load` packs the block once and every
/// `multiply` reuses it. OpenBLAS's speed there follows the kernel family it picks, and
/// `OPENBLAS_CORETYPE=Haswell` halves it. Elsewhere `cblas_sgemm` on the rows in place (the
/// caller keeps OpenBLAS single-threaded). One per thread; not shared.
final class RowProducts {
    private let dimension: Int
    private let maxRows: Int
    /// The packed block (AVX-512 only).
    private let packed: UnsafeMutablePointer<Float>?
    private var rows: UnsafePointer<Float>?
    private var count = 0

    /// Room for blocks of up to `maxRows` rows of `dimension` floats.
    init(maxRows: Int, dimension: Int) {
        self.dimension = dimension
        self.maxRows = maxRows
        if vdb_isa_active() >= Int32(VDB_ISA_AVX512) {
            let floats = vdb_gemm_packed_count(max(1, maxRows), dimension)
            precondition(floats > 0, "RowProducts: \(maxRows) x \(dimension) is too large to pack")
            packed = .allocate(capacity: floats)
        } else {
            packed = nil
        }
    }

    deinit { packed?.deallocate() }

    /// Makes `rows[0..<n]` (row-major, `dimension` floats each) the block later products use;
    /// `rows` must stay valid until the next `load`.
    func load(_ rows: UnsafePointer<Float>, count n: Int) {
        precondition(n <= maxRows, "RowProducts: a block of \(n) rows, room for \(maxRows)")
        self.rows = rows
        count = n
        if let packed { vdb_gemm_pack(rows, n, dimension, packed) }
    }

    /// c[i * n + j] = queries[i] . rows[j] for the `m` queries (row-major, `dimension` floats each).
    func multiply(_ queries: UnsafePointer<Float>, count m: Int, into c: UnsafeMutablePointer<Float>) {
        guard let rows else { preconditionFailure("RowProducts.multiply before load") }
        let d = dimension, n = count
        if let packed {
            let rc = vdb_gemm(queries, d, m, packed, n, d, nil, 0, c, n, 0, n)
            precondition(rc == 0, "vdb_gemm failed (\(rc))")  // the column range starts at 0
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(d),
                        1, queries, Int32(d), rows, Int32(d), 0, c, Int32(n))
        }
    }
}
