import CVDBKernels
import Foundation
import Testing

/// CLIP's packed GEMM (`CVDBKernels/gemm.c`) at every ISA level this CPU runs and in bf16, against
/// double-precision references, on shapes around its blocking (6-row slivers, 64-column panels,
/// 512-long k blocks).
@Suite struct GEMMTests {
    /// (m, n, k): single elements, partial slivers and panels, k across one and two block
    /// boundaries, an empty reduction.
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (5, 64, 7), (13, 100, 301), (7, 130, 513), (200, 65, 1030), (6, 128, 0),
    ]
    static let isas: [Int32] = (0..<Int32(VDB_ISA_COUNT)).filter { vdb_isa_supported($0) != 0 }

    /// y0 + x W^T + bias in double, over columns [c0, c1) (others keep y0).
    static func reference(_ x: [Float], ldx: Int, _ w: [Float], m: Int, n: Int, k: Int, bias: [Float]?, y0: [Float],
                          ldy: Int, accumulate: Bool, round: (Float) -> Float = { $0 }) -> [Double] {
        var out = y0.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var s = accumulate ? Double(y0[i * ldy + j]) : 0
                for t in 0..<k { s += Double(round(x[i * ldx + t])) * Double(round(w[j * k + t])) }
                out[i * ldy + j] = s + Double(bias?[j] ?? 0)
            }
        }
        return out
    }

    static func pack(_ w: [Float], n: Int, k: Int) -> [Float] {
        var p = [Float](repeating: .nan, count: vdb_gemm_packed_count(n, k))
        vdb_gemm_pack(w, n, k, &p)
        return p
    }

    @Test(arguments: isas)
    func float32MatchesReference(isa: Int32) {
        for (m, n, k) in Self.shapes {
            let ldx = k + 3, ldy = n + 5
            let x = values(m * ldx, salt: m + k), w = values(n * k, salt: n), bias = values(n, salt: 7)
            let y0 = values(m * ldy, salt: 11)
            let packed = Self.pack(w, n: n, k: k)
            for accumulate in [false, true] {
                for withBias in [false, true] {
                    var y = y0
                    // two calls: the first panel, then the rest (the split threads use)
                    for (c0, c1) in [(0, 64), (64, n)] where c0 < n {
                        let rc = vdb_gemm_at(isa, x, ldx, m, packed, n, k, withBias ? bias : nil, accumulate ? 1 : 0,
                                                &y, ldy, c0, c1)
                        #expect(rc == 0)
                    }
                    let want = Self.reference(x, ldx: ldx, w, m: m, n: n, k: k, bias: withBias ? bias : nil, y0: y0,
                                              ldy: ldy, accumulate: accumulate)
                    let tolerance = 1e-6 * Double(max(k, 1)) + 1e-6
                    #expect(maxAbsDiff(y, want) <= tolerance,
                            "isa \(isa) m=\(m) n=\(n) k=\(k) accumulate=\(accumulate) bias=\(withBias)")
                    for i in 0..<m { for j in n..<ldy { #expect(y[i * ldy + j] == y0[i * ldy + j], "padding columns untouched") } }
                }
            }
        }
    }

    /// Threads take whole panels; each element's sum runs in the same order whatever the split, so
    /// one call and a call per panel agree bit for bit.
    @Test(arguments: isas)
    func columnSplitDoesNotChangeResults(isa: Int32) {
        let m = 20, n = 200, k = 700
        let x = values(m * k, salt: 3), w = values(n * k, salt: 4), bias = values(n, salt: 5)
        let packed = Self.pack(w, n: n, k: k)
        var whole = [Float](repeating: 0, count: m * n), split = whole
        #expect(vdb_gemm_at(isa, x, k, m, packed, n, k, bias, 0, &whole, n, 0, n) == 0)
        for c0 in stride(from: 0, to: n, by: Int(VDB_GEMM_NR)) {
            #expect(vdb_gemm_at(isa, x, k, m, packed, n, k, bias, 0, &split, n, c0, c0 + Int(VDB_GEMM_NR)) == 0)
        }
        #expect(whole == split)
    }

    @Test func misuseIsReported() {
        let n = 100, k = 10
        let packed = Self.pack(values(n * k, salt: 1), n: n, k: k)
        var y = [Float](repeating: 0, count: n)
        #expect(vdb_gemm(values(k, salt: 2), k, 1, packed, n, k, nil, 0, &y, n, 5, n) == -3, "a column range must start on a panel")
        #expect(vdb_gemm_at(Int32(VDB_ISA_COUNT), values(k, salt: 2), k, 1, packed, n, k, nil, 0, &y, n, 0, n) == -2)
        #expect(vdb_gemm_packed_count(Int.max / 2, 3) == 0, "an overflowing size is 0, not a wrapped count")
        #expect(vdb_gemm_packed_bf16_count(Int.max / 2, 3) == 0)
    }

    /// bf16: the portable loop equals a double reference on bf16-rounded operands; the AVX512_BF16
    /// kernel (required where /proc/cpuinfo lists avx512_bf16) agrees with it.
    @Test func bfloat16() {
        func bf16(_ f: Float) -> Float {
            var u = f.bitPattern
            u = u &+ 0x7fff &+ ((u >> 16) & 1)
            return Float(bitPattern: u & 0xffff_0000)
        }
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        let nativeExpected = flags.contains("avx512_bf16") && vdb_isa_active() >= Int32(VDB_ISA_AVX512)
        #expect((vdb_gemm_bf16_native() != 0) == nativeExpected)
        for (m, n, k) in Self.shapes {
            let x = values(m * k, salt: m), w = values(n * k, salt: n + 1), bias = values(n, salt: 2)
            var packed = [UInt16](repeating: 0xffff, count: vdb_gemm_packed_bf16_count(n, k))
            vdb_gemm_pack_bf16(w, n, k, &packed)
            let y0 = values(m * n, salt: 9)
            let want = Self.reference(x, ldx: k, w, m: m, n: n, k: k, bias: bias, y0: y0, ldy: n, accumulate: true,
                                      round: bf16)
            var portable = y0
            #expect(vdb_gemm_bf16_at(0, x, k, m, packed, n, k, bias, 1, &portable, n, 0, n) == 0)
            #expect(maxAbsDiff(portable, want) <= 1e-6 * Double(max(k, 1)) + 1e-6, "portable m=\(m) n=\(n) k=\(k)")
            var native = y0
            let rc = vdb_gemm_bf16_at(1, x, k, m, packed, n, k, bias, 1, &native, n, 0, n)
            if nativeExpected {
                #expect(rc == 0)
                #expect(maxAbsDiff(native, want) <= 1e-6 * Double(max(k, 1)) + 1e-6, "native m=\(m) n=\(n) k=\(k)")
            } else {
                #expect(rc == -2, "no AVX512_BF16 here: the native kernel must refuse")
            }
        }
    }
}
