import CVDBKernels
import Testing
import VDBSupport

typealias KernelLevel = Level<vdb_kernel_table>

/// Dimensions at every vector-body boundary of every level (4, 8, 16, 32 lanes) plus the common
/// embedding sizes around 384.
let edgeDims = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 383, 384, 385]
/// Row counts around the four-row blocks of the list scans.
let edgeCounts = [0, 1, 3, 4, 5, 7, 9, 13]

func randomFloats(_ n: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in Float(Int(rng.next() % 20001) - 10000) / 10000 * scale }
}

/// Plain double-precision references and the error bound a float sum of these terms allows.
func refL2(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> (value: Double, bound: Double) {
    var s = 0.0
    for (x, y) in zip(a, b) { let t = Double(x) - Double(y); s += t * t }
    return (s, 1e-5 * max(1, s))
}
func refIP(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> (value: Double, bound: Double) {
    var s = 0.0, mag = 0.0
    for (x, y) in zip(a, b) { s += Double(x) * Double(y); mag += abs(Double(x) * Double(y)) }
    return (s, 1e-5 * max(1, mag))
}

func row(_ x: [Float], _ i: Int, _ d: Int) -> ArraySlice<Float> { x[(i * d)..<((i + 1) * d)] }

/// Every vector kernel at every ISA level this CPU runs, against plain references, for the
/// dimensions and counts where vector bodies and tails meet.
@Suite struct KernelLevelTests {
    @Test(arguments: kernelLevels)
    func pairKernels(level: KernelLevel) {
        var rng = SplitMix64(seed: 1)
        for d in edgeDims + Array(1...70) {
            let a = randomFloats(d, &rng, scale: 2), b = randomFloats(d, &rng, scale: 2)
            let l2 = refL2(a[...], b[...]), ip = refIP(a[...], b[...])
            #expect(abs(Double(level.table.l2sq(a, b, d)) - l2.value) <= l2.bound, "\(level) l2sq d=\(d)")
            #expect(abs(Double(level.table.ip(a, b, d)) - ip.value) <= ip.bound, "\(level) ip d=\(d)")
        }
    }

    @Test(arguments: kernelLevels)
    func batches(level: KernelLevel) {
        var rng = SplitMix64(seed: 2)
        for d in edgeDims {
            for n in edgeCounts {
                let q = randomFloats(d, &rng), x = randomFloats(n * d, &rng)
                var l2 = [Float](repeating: .nan, count: n), ip = l2, norms = l2
                level.table.l2sq_batch(q, x, n, d, &l2)
                level.table.ip_batch(q, x, n, d, &ip)
                level.table.norm_sq_batch(x, n, d, &norms)
                for i in 0..<n {
                    let r = row(x, i, d)
                    let wl2 = refL2(q[...], r), wip = refIP(q[...], r), wn = refIP(r, r)
                    #expect(abs(Double(l2[i]) - wl2.value) <= wl2.bound, "\(level) l2sq_batch d=\(d) n=\(n) i=\(i)")
                    #expect(abs(Double(ip[i]) - wip.value) <= wip.bound, "\(level) ip_batch d=\(d) n=\(n) i=\(i)")
                    #expect(abs(Double(norms[i]) - wn.value) <= wn.bound, "\(level) norm_sq_batch d=\(d) n=\(n) i=\(i)")
                }
            }
        }
    }

    /// Row scans (one row at a time and four at a time) for both metrics: 0 = squared L2,
    /// 1 = negated inner product.
    @Test(arguments: kernelLevels)
    func listScans(level: KernelLevel) {
        var rng = SplitMix64(seed: 17)
        for d in edgeDims {
            for n in edgeCounts {
                let x = randomFloats(n * d, &rng, scale: 2), q = randomFloats(d, &rng, scale: 2)
                for metric: Int32 in [0, 1] {
                    var out = [Float](repeating: .nan, count: n), out4 = out
                    level.table.scan_f32(q, x, n, d, metric, &out)
                    level.table.scan4_f32(q, x, n, d, metric, &out4)
                    for i in 0..<n {
                        let ref = metric == 0 ? refL2(q[...], row(x, i, d)) : refIP(q[...], row(x, i, d))
                        let want = metric == 0 ? ref.value : -ref.value
                        #expect(abs(Double(out[i]) - want) <= ref.bound, "\(level) scan d=\(d) n=\(n) i=\(i) metric=\(metric)")
                        #expect(abs(Double(out4[i]) - want) <= ref.bound, "\(level) scan4 d=\(d) n=\(n) i=\(i) metric=\(metric)")
                    }
                }
            }
        }
    }

    /// The fused score + select of exact search, for every length 0...70 and 383...385 (vector
    /// body and tails), both metrics, against a plain loop.
    @Test(arguments: kernelLevels)
    func selectScores(level: KernelLevel) {
        var rng = SplitMix64(seed: 5)
        for n in Array(0...70) + [383, 384, 385] {
            for l2 in [true, false] {
                let c = randomFloats(n, &rng, scale: 3), xn = randomFloats(n, &rng, scale: 2).map { $0 + 2 }
                let qn: Float = 2.5
                let ref = (0..<n).map { l2 ? Double(qn) + Double(xn[$0]) - 2 * Double(c[$0]) : -Double(c[$0]) }
                let thr = Float(ref.sorted().dropFirst(n / 3).first ?? 0)
                var idx = [UInt32](repeating: 0, count: max(1, n)), sc = [Float](repeating: 0, count: max(1, n))
                let m = level.table.select_scores_from_ip(c, n, qn, xn, l2 ? 1 : 0, thr, &idx, &sc)
                let chosen = idx.prefix(m).map(Int.init)
                #expect(chosen == chosen.sorted(), "\(level) n=\(n)")
                for (j, i) in chosen.enumerated() {
                    #expect(abs(Double(sc[j]) - ref[i]) < 1e-5, "\(level) n=\(n) i=\(i)")
                    #expect(ref[i] <= Double(thr) + 1e-5)
                }
                let set = Set(chosen)
                for i in 0..<n where !set.contains(i) { #expect(ref[i] > Double(thr) - 1e-5, "\(level) n=\(n) i=\(i)") }
            }
        }
    }

    /// SQ8 scores on the codes match the exact distance to the decoded vector, with and without
    /// a centroid (residual coding); every level gives the scalar level's scores bit for bit (the
    /// inner sum is an exact integer dot product).
    @Test(arguments: [false, true])
    func sq8Scan(residual: Bool) {
        var rng = SplitMix64(seed: 5)
        for d in edgeDims {
            let n = 9
            let x = (0..<(n * d)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 300 }
            let q = (0..<d).map { _ in Float(Int(rng.next() % 2001) - 1000) / 300 }
            let c = (0..<d).map { _ in residual ? Float(Int(rng.next() % 201) - 100) / 300 : 0 }
            let r = (0..<(n * d)).map { x[$0] - c[$0 % d] }
            var vmin = [Float](repeating: 0, count: d), vdiff = vmin
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
                var scalar = [Float](repeating: .nan, count: n)
                kernelLevels[0].table.sq8_scan(&st, codes, n, metric, metric == 0 ? qmc : qc, &scalar)
                for level in kernelLevels.dropFirst() {
                    var out = [Float](repeating: .nan, count: n)
                    level.table.sq8_scan(&st, codes, n, metric, metric == 0 ? qmc : qc, &out)
                    #expect(out.map(\.bitPattern) == scalar.map(\.bitPattern), "\(level) d=\(d) metric=\(metric)")
                }
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
                    #expect(abs(Double(scalar[i]) - want) <= 2e-3 * max(1, abs(want)), "d=\(d) metric=\(metric) i=\(i)")
                }
            }
        }
    }

    /// The portable helpers used at every level.
    @Test func selectAndScoreHelpers() {
        var rng = SplitMix64(seed: 8)
        for n in [0, 1, 3, 16, 17, 385] {
            let s = randomFloats(n, &rng)
            var idx = [UInt32](repeating: 0, count: max(1, n))
            let m = vdb_select_le(s, n, 0.25, &idx)
            #expect(Array(idx.prefix(m)) == (0..<n).filter { s[$0] <= 0.25 }.map(UInt32.init))
            let xn = randomFloats(n, &rng).map { $0 + 1 }
            var c = s
            vdb_scores_from_ip(&c, n, 1.5, xn, 1)
            for i in 0..<n { #expect(abs(Double(c[i]) - (1.5 + Double(xn[i]) - 2 * Double(s[i]))) < 1e-6) }
            c = s
            vdb_scores_from_ip(&c, n, 1.5, xn, 0)
            #expect(c == s.map { -$0 })
        }
    }
}
