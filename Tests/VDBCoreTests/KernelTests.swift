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

@Suite struct TopKTests {
    @Test func keepsBestWithTiesBrokenBySmallerId() {
        var top = TopK(k: 3)
        for (s, id) in [(5.0, 1), (1.0, 9), (1.0, 4), (3.0, 2), (1.0, 7), (0.5, 100)] as [(Float, UInt64)] {
            top.push(score: s, id: id)
        }
        #expect(top.sorted().map(\.id) == [100, 4, 7])
        #expect(top.threshold == 1.0)
    }

    @Test func matchesFullSortOnRandomInput() {
        var rng = SystemRandomNumberGenerator()
        let scores = (0..<1000).map { _ in Float(Int.random(in: 0..<50, using: &rng)) }
        var top = TopK(k: 10)
        for (i, s) in scores.enumerated() { top.push(score: s, id: UInt64(i)) }
        let expected = scores.enumerated().sorted { ($0.element, $0.offset) < ($1.element, $1.offset) }.prefix(10).map { UInt64($0.offset) }
        #expect(top.sorted().map(\.id) == Array(expected))
    }
}
