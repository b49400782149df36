import CVDBKernels
import Testing
@testable import VDBCore

@Suite struct FlatKernelTests {
    /// The fused score + select kernel (AVX-512 compress-store or portable) against a plain loop,
    /// for every length 0...70 (vector body and tails), both metrics.
    @Test func selectScoresMatchesReference() {
        var rng = SplitMix64(seed: 5)
        for n in 0...70 {
            for l2 in [true, false] {
                let c = (0..<n).map { _ in Float.random(in: -3...3, using: &rng) }
                let xn = (0..<n).map { _ in Float.random(in: 0...4, using: &rng) }
                let qn: Float = 2.5
                let ref = (0..<n).map { l2 ? Double(qn) + Double(xn[$0]) - 2 * Double(c[$0]) : -Double(c[$0]) }
                let thr = Float(ref.sorted().dropFirst(n / 3).first ?? 0)
                var idx = [UInt32](repeating: 0, count: max(1, n))
                var sc = [Float](repeating: 0, count: max(1, n))
                let m = vdb_select_scores_from_ip(c, n, qn, xn, l2 ? 1 : 0, thr, &idx, &sc)
                let chosen = Array(idx.prefix(m)).map(Int.init)
                #expect(chosen == chosen.sorted())
                for (j, i) in chosen.enumerated() {
                    #expect(abs(Double(sc[j]) - ref[i]) < 1e-5)
                    #expect(ref[i] <= Double(thr) + 1e-5)
                }
                let set = Set(chosen)
                for i in 0..<n where !set.contains(i) { #expect(ref[i] > Double(thr) - 1e-5) }
                // Plain select.
                let s = ref.map(Float.init)
                let m2 = vdb_select_le(s, n, thr, &idx)
                #expect(Array(idx.prefix(m2)) == (0..<n).filter { s[$0] <= thr }.map(UInt32.init))
            }
        }
    }
}
