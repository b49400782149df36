import Testing
import CVDBKernels
@testable import VDBCore

@Suite struct KernelTests {
    /// Every dimension from 1 to 130 exercises the vector body and each tail length.
    @Test func kernelsMatchDoublePrecision() {
        var rng = SystemRandomNumberGenerator()
        for d in 1...130 {
            let a = (0..<d).map { _ in Float.random(in: -1...1, using: &rng) }
            let b = (0..<d).map { _ in Float.random(in: -1...1, using: &rng) }
            var l2 = 0.0, ip = 0.0
            for i in 0..<d { let t = Double(a[i]) - Double(b[i]); l2 += t * t; ip += Double(a[i]) * Double(b[i]) }
            #expect(abs(Double(vdb_l2sq(a, b, d)) - l2) < 1e-4 * max(1, l2))
            #expect(abs(Double(vdb_ip(a, b, d)) - ip) < 1e-4 * max(1, abs(ip)))
        }
        #expect(["avx512", "avx2", "scalar"].contains(kernelISA))
    }
}
