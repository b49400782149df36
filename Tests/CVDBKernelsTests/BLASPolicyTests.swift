import COpenBLAS
import CVDBKernels
import Testing

/// vdb_blas.h: OpenBLAS runs on one thread (vdb threads itself), and its products stay exact.
@Suite struct BLASPolicyTests {
    @Test func oneBLASThread() {
        openblas_set_num_threads(2)  // as a library that raised it would have
        vdb_blas_single_thread()
        #expect(openblas_get_num_threads() == 1)
        let core = String(cString: vdb_blas_core())
        #expect(!core.isEmpty && core != "unknown")
        let a: [Float] = (0..<(64 * 48)).map { Float($0 % 7) - 3 }, b: [Float] = (0..<(32 * 48)).map { Float($0 % 5) - 2 }
        var c = [Float](repeating: 0, count: 64 * 32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 64, 32, 48, 1, a, 48, b, 48, 0, &c, 32)
        var worst: Float = 0
        for i in 0..<64 {
            for j in 0..<32 {
                var s: Float = 0
                for t in 0..<48 { s += a[i * 48 + t] * b[j * 48 + t] }
                worst = max(worst, abs(s - c[i * 32 + j]))
            }
        }
        #expect(worst == 0)  // small integers: exact in float32 whatever the summation order
    }
}
