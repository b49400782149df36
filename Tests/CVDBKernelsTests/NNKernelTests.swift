import CVDBKernels
import CVDBNN
import Foundation
import Testing

typealias NNLevel = Level<vdb_nn_table>

/// The CLIP nn kernels of every level this CPU runs (the AVX-512 level runs the AVX2 code except for attention).
let nnLevels = NNLevel.all(vdb_nn_table_for)

/// Deterministic values in [-scale, scale] (no generator state needed).
func values(_ n: Int, salt: Int, scale: Float = 1) -> [Float] {
    (0..<n).map { Float(sin(Double($0 &* 7919 &+ salt &* 104_729) * 0.618)) * scale }
}

func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
}

/// The CLIP nn kernels at every ISA level this CPU runs, against plain double references, at
/// widths around the 8-lane vector body.
@Suite struct NNKernelTests {
    static let widths = [1, 3, 7, 8, 9, 15, 16, 17, 33, 64, 383, 384, 385]

    @Test(arguments: nnLevels)
    func layerNorm(level: NNLevel) {
        for n in Self.widths {
            let rows = 3, ld = n + 2
            let x = values(rows * ld, salt: n, scale: 3), g = values(n, salt: n + 1), b = values(n, salt: n + 2)
            var out = [Float](repeating: .nan, count: rows * ld)
            level.table.layernorm(x, ld, &out, ld, 1, rows, n, g, b, 1e-5)
            for r in 0..<rows {
                let xr = (0..<n).map { Double(x[r * ld + $0]) }
                let mean = xr.reduce(0, +) / Double(n)
                let v = xr.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
                let want = (0..<n).map { (xr[$0] - mean) / (v + 1e-5).squareRoot() * Double(g[$0]) + Double(b[$0]) }
                let got = Array(out[(r * ld)..<(r * ld + n)])
                if r == 0 {
                    #expect(got.allSatisfy { $0.isNaN }, "\(level) rows outside the range stay untouched")
                } else {
                    #expect(maxAbsDiff(got, want) < 1e-4, "\(level) layernorm n=\(n) row=\(r)")
                }
            }
        }
    }

    @Test(arguments: nnLevels)
    func biasAndActivation(level: NNLevel) {
        for n in Self.widths {
            for act in [VDB_ACT_NONE, VDB_ACT_QUICK_GELU, VDB_ACT_GELU].map({ Int32($0) }) {
                for withBias in [true, false] {
                    let x = values(2 * n, salt: n, scale: 6), bias = values(n, salt: n + 3)
                    var y = x
                    if withBias { level.table.bias_act(&y, n, 0, 2, n, bias, act) } else { level.table.bias_act(&y, n, 0, 2, n, nil, act) }
                    let want = (0..<(2 * n)).map { i -> Double in
                        let v = Double(x[i]) + (withBias ? Double(bias[i % n]) : 0)
                        switch act {
                        case Int32(VDB_ACT_QUICK_GELU): return v / (1 + exp(-1.702 * v))
                        case Int32(VDB_ACT_GELU): return 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
                        default: return v
                        }
                    }
                    #expect(maxAbsDiff(y, want) < 2e-5, "\(level) bias_act n=\(n) act=\(act) bias=\(withBias)")
                }
            }
        }
    }

    @Test(arguments: nnLevels)
    func softmaxRows(level: NNLevel) {
        for n in Self.widths {
            let ld = n + 1
            var x = values(2 * ld, salt: n, scale: 20)
            let src = x
            level.table.softmax_rows(&x, ld, 2, n)
            for r in 0..<2 {
                let row = (0..<n).map { Double(src[r * ld + $0]) }
                let m = row.max()!
                let e = row.map { exp($0 - m) }, s = e.reduce(0, +)
                #expect(maxAbsDiff(Array(x[(r * ld)..<(r * ld + n)]), e.map { $0 / s }) < 1e-6, "\(level) softmax n=\(n)")
                #expect(x[r * ld + n] == src[r * ld + n], "\(level) the padding column stays untouched")
            }
        }
    }

    /// Attention on a fused QKV matrix against a direct double-precision computation: head sizes
    /// with and without the 8-wide register-blocked path, causal or not, per-item lengths and the
    /// single pooled query of the last layer.
    @Test(arguments: nnLevels)
    func attention(level: NNLevel) {
        let batch = 2, heads = 2
        for dh in [8, 12, 16, 64] {
            for seq in [1, 5, 13, 50] {
                for causal in [false, true] {
                    for variant in 0..<3 {  // 0: all tokens, 1: lengths, 2: lengths + only_query
                        let D = heads * dh, ld = 3 * D
                        let qkv = values(batch * seq * ld, salt: dh * 100 + seq)
                        let lengths: [Int32] = [Int32(seq), Int32(max(1, seq - 2))]
                        let only: [Int32] = [Int32(seq - 1), Int32(max(0, seq - 3))]
                        var out = [Float](repeating: .nan, count: batch * seq * D)
                        var scratch = [Float](repeating: 0, count: (dh + 4) * (seq + 8))
                        let scale = 1 / Float(dh).squareRoot()
                        lengths.withUnsafeBufferPointer { lp in
                            only.withUnsafeBufferPointer { op in
                                level.table.attention(qkv, &out, seq, heads, dh, causal ? 1 : 0,
                                                      variant >= 1 ? lp.baseAddress : nil, variant == 2 ? op.baseAddress : nil,
                                                      scale, 0, batch * heads, &scratch)
                            }
                        }
                        for b in 0..<batch {
                            let len = variant >= 1 ? Int(lengths[b]) : seq
                            let queries = variant == 2 ? (Int(only[b]) < len ? [Int(only[b])] : []) : Array(0..<len)
                            for i in 0..<seq {
                                for h in 0..<heads {
                                    let got = Array(out[((b * seq + i) * D + h * dh)..<((b * seq + i) * D + (h + 1) * dh)])
                                    guard queries.contains(i) else {
                                        #expect(got.allSatisfy { $0.isNaN }, "\(level) rows not asked for stay untouched")
                                        continue
                                    }
                                    let n = causal ? i + 1 : len
                                    func at(_ j: Int, _ part: Int, _ d: Int) -> Double {
                                        Double(qkv[(b * seq + j) * ld + part * D + h * dh + d])
                                    }
                                    let s = (0..<n).map { j in (0..<dh).map { at(i, 0, $0) * at(j, 1, $0) }.reduce(0, +) * Double(scale) }
                                    let m = s.max()!, e = s.map { exp($0 - m) }, z = e.reduce(0, +)
                                    let want = (0..<dh).map { d in (0..<n).map { e[$0] / z * at($0, 2, d) }.reduce(0, +) }
                                    #expect(maxAbsDiff(got, want) < 1e-5,
                                            "\(level) attention dh=\(dh) seq=\(seq) causal=\(causal) variant=\(variant) b=\(b) i=\(i) h=\(h)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
