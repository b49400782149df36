import Foundation
import Testing
import CVDBKernels
@testable import VDBCore

/// Unit tests of the pieces the indexes are built from (no dataset needed).
@Suite struct IndexKernelTests {
    @Test func packedScoresOrderLikeFloats() {
        let values: [Float] = [-.infinity, -1e30, -3.5, -1, -0.0, 0, 1e-30, 1, 2.25, 1e30, .infinity]
        for a in values {
            for b in values where a < b {
                #expect(packScore(a, 7) < packScore(b, 1), "\(a) < \(b)")
            }
            #expect(unpackScore(packScore(a, 3)) == a)
        }
        #expect(packScore(1, 2) < packScore(1, 3))
        #expect(unpackSlot(packScore(-2, 12345)) == 12345)
    }

    @Test func heapsSelectTheSmallest() {
        var rng = SplitMix64(seed: 9)
        let scores = (0..<500).map { _ in Float(Int(rng.next() % 100)) }
        let buf = UnsafeMutablePointer<UInt64>.allocate(capacity: 600)
        defer { buf.deallocate() }
        var top = MaxHeap(buf)
        for (i, s) in scores.enumerated() {
            let key = packScore(s, UInt32(i))
            if top.count < 10 { top.push(key) } else if key < top.top { top.replaceTop(key) }
        }
        let got = top.drainSorted().map(\.slot)
        let want = scores.enumerated().sorted { ($0.element, $0.offset) < ($1.element, $1.offset) }.prefix(10).map { UInt32($0.offset) }
        #expect(got == Array(want))
        var mh = MinHeap(buf)
        for (i, s) in scores.enumerated() { mh.push(packScore(s, UInt32(i))) }
        var prev: UInt64 = 0
        while mh.count > 0 { let v = mh.pop(); #expect(v >= prev); prev = v }
    }

    /// Scores on SQ8 codes match the exact distance to the decoded vector, with and without a
    /// centroid (residual coding).
    @Test(arguments: [false, true])
    func sq8ScoresMatchDecodedVectors(residual: Bool) {
        var rng = SplitMix64(seed: 5)
        for d in [1, 7, 16, 33, 64, 100, 384] {
            let n = 20
            let x = (0..<(n * d)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 300 }
            let q = (0..<d).map { _ in Float(Int(rng.next() % 2001) - 1000) / 300 }
            let c = (0..<d).map { _ in residual ? Float(Int(rng.next() % 201) - 100) / 300 : 0 }
            let r = (0..<(n * d)).map { x[$0] - c[$0 % d] }
            var vmin = [Float](repeating: 0, count: d), vdiff = [Float](repeating: 0, count: d)
            vdb_sq8_train(r, n, d, &vmin, &vdiff)
            var codes = [UInt8](repeating: 0, count: n * (d + 4))
            if residual { vdb_sq8_encode(x, n, d, c, vmin, vdiff, &codes) } else { vdb_sq8_encode(x, n, d, nil, vmin, vdiff, &codes) }
            let wq = UnsafeMutablePointer<Int16>.allocate(capacity: (d + 63) / 64 * 64)
            defer { wq.deallocate() }
            var st = vdb_sq8_query()
            st.wq = wq
            vdb_sq8_prepare(q, d, vmin, vdiff, &st)
            var qc: Float = 0, qmc: Float = 0
            for j in 0..<d { qc += q[j] * c[j]; qmc += (q[j] - c[j]) * (q[j] - c[j]) }
            for metric: Int32 in [0, 1] {
                var out = [Float](repeating: 0, count: n)
                vdb_sq8_scan(&st, codes, n, metric, metric == 0 ? qmc : qc, &out)
                for i in 0..<n {
                    var dec = [Float](repeating: 0, count: d)
                    codes.withUnsafeBufferPointer { vdb_sq8_decode($0.baseAddress! + i * (d + 4), d, vmin, vdiff, &dec) }
                    // The decoded residual is within one step of the original.
                    for j in 0..<d { #expect(abs(dec[j] - r[i * d + j]) <= vdiff[j] / 255 + 1e-5) }
                    var want: Double = 0
                    for j in 0..<d {
                        let xd = Double(c[j]) + Double(dec[j])
                        want += metric == 0 ? (Double(q[j]) - xd) * (Double(q[j]) - xd) : -Double(q[j]) * xd
                    }
                    #expect(abs(Double(out[i]) - want) <= 2e-3 * max(1, abs(want)), "d=\(d) metric=\(metric) i=\(i)")
                }
            }
        }
        #expect(["avx512bw", "avx2", "scalar"].contains(String(cString: vdb_sq8_isa())))
    }

    /// The four-rows-at-a-time list scan matches the pairwise kernels for every tail length.
    @Test func listScanMatchesPairKernels() {
        var rng = SplitMix64(seed: 17)
        for d in [1, 5, 16, 17, 31, 64, 100, 384] {
            for n in [0, 1, 3, 4, 7, 9, 13] {
                let x = (0..<(n * d)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 500 }
                let q = (0..<d).map { _ in Float(Int(rng.next() % 2001) - 1000) / 500 }
                for metric: Int32 in [0, 1] {
                    var out = [Float](repeating: .nan, count: n)
                    var out4 = [Float](repeating: .nan, count: n)
                    vdb_scan_f32(q, x, n, d, metric, &out)
                    vdb_scan4_f32(q, x, n, d, metric, &out4)
                    for i in 0..<n {
                        let want = x.withUnsafeBufferPointer { vdb_score_f32(q, $0.baseAddress! + i * d, d, metric) }
                        #expect(abs(out[i] - want) <= 1e-4 * max(1, abs(want)), "d=\(d) n=\(n) i=\(i)")
                        #expect(abs(out4[i] - want) <= 1e-4 * max(1, abs(want)), "d=\(d) n=\(n) i=\(i)")
                    }
                }
            }
        }
    }

    @Test func recordStoreIteratesPrefixInKeyOrder() throws {
        let r = InMemoryIndexRecords()
        for k in [RecordKey.make(76, 2, 0), RecordKey.make(76, 1, 1), RecordKey.make(76, 1, 0), RecordKey.make(77)] {
            try [UInt8](k).withUnsafeBytes { try r.put(k, $0) }
        }
        var seen: [[UInt8]] = []
        try r.forEach(prefix: [76]) { k, v in seen.append(k); #expect(Array(v) == k) }
        #expect(seen == [RecordKey.make(76, 1, 0), RecordKey.make(76, 1, 1), RecordKey.make(76, 2, 0)])
        try r.delete(RecordKey.make(77))
        #expect(try r.get(RecordKey.make(77)) == nil)
        #expect(r.recordCount == 3)
    }
}
