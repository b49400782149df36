// vdb-micro-bench: nanoseconds per vector of the distance kernels (float L2/IP, SQ8 codes) and sgemm blocks that every
// index's hot loop runs, for the embedding dimensions vdb is used with. A regression in a
// kernel shows up here as a larger number in the same row.
//
//   swift run -c release vdb-micro-bench [--dims 128,384,512,768] [--repeats 7] [--vectors 4096] [--threads 1]
//   vdb-micro-bench --sgemm 1000x50000x384 [--threads 2] [--repeats 3]
//
// `--sgemm MxNxK` measures the machine's sgemm limit for one shape instead (the product Q[M,K] x
// B[N,K]^T that an exact batch search of M queries over N vectors computes), split over
// `--threads` threads into column ranges, one single-threaded OpenBLAS call each (vdb's BLAS
// policy; the search itself splits by queries and tiles): one JSON line with the median seconds, GFLOPS and OpenBLAS's kernel family.
//
// Method: every measurement runs once untimed (warm-up), then `repeats` timed runs; the table
// shows the median (and the minimum) in ns per vector (per query-vector pair for sgemm). The
// vectors are random and seeded; 4096 of them take 2 MB (d=128) to 12 MB (d=768), so they stay
// in the L3 cache: the numbers measure kernels fed from cache, not DRAM bandwidth. On a shared
// machine compare the minimum column between runs; the median shows the noise.
import COpenBLAS
import CVDBKernels
import Foundation
import VDBBench
import VDBCore
import VDBSupport

struct Options {
    var dims = [128, 384, 512, 768]
    var repeats = 7
    var vectors = 4096
    var threads = 1
    var sgemm: (m: Int, n: Int, k: Int)?

    init(_ args: [String]) throws {
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw UsageError("missing value after \(args[i - 1])") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--dims":
                dims = try value().split(separator: ",").map {
                    guard let d = Int($0), d > 0 else { throw UsageError("--dims wants positive integers, got '\($0)'") }
                    return d
                }
            case "--repeats": repeats = try positive(value(), "--repeats")
            case "--vectors": vectors = try positive(value(), "--vectors")
            case "--threads": threads = try positive(value(), "--threads")
            case "--sgemm":
                let parts = try value().split(separator: "x").map { try positive(String($0), "--sgemm") }
                guard parts.count == 3 else { throw UsageError("--sgemm wants MxNxK, e.g. 1000x50000x384") }
                sgemm = (parts[0], parts[1], parts[2])
            case "-h", "--help":
                print("usage: vdb-micro-bench [--dims 128,384,512,768] [--repeats 7] [--vectors 4096] [--threads 1]\n"
                      + "       vdb-micro-bench --sgemm MxNxK [--threads 1] [--repeats 7]")
                exit(0)
            default: throw UsageError("unknown option \(args[i])")
            }
            i += 1
        }
    }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ m: String) { description = m }
}

func positive(_ s: String, _ name: String) throws -> Int {
    guard let v = Int(s), v > 0 else { throw UsageError("\(name) wants a positive integer, got '\(s)'") }
    return v
}

/// Runs `body` once untimed, then `repeats` times; returns (median, min) seconds per run.
func measure(repeats: Int, _ body: () -> Void) -> (median: Double, min: Double) {
    body()
    var times: [Double] = []
    for _ in 0 ..< repeats {
        let t = BenchSystem.nanoseconds()
        body()
        times.append(Double(BenchSystem.nanoseconds() - t) / 1e9)
    }
    return (BenchStatistics.median(times), times.min() ?? .nan)
}

/// Keeps results observable so the optimizer cannot drop the loops.
nonisolated(unsafe) var sink: Float = 0

let options: Options
do { options = try Options(Array(CommandLine.arguments.dropFirst())) } catch {
    FileHandle.standardError.write(Data("vdb-micro-bench: \(error)\n".utf8))
    exit(2)
}

/// The sgemm limit of one shape: column ranges over `threads`, one single-threaded call each.
func sgemmLimit(m: Int, n: Int, k: Int, threads: Int, repeats: Int) {
    var rng = BenchRandom(seed: 7)
    let q = (0 ..< m * k).map { _ in rng.nextGaussian() }, b = (0 ..< n * k).map { _ in rng.nextGaussian() }
    var c = [Float](repeating: 0, count: m * n)
    vdb_blas_single_thread()
    /// Median and min seconds of `product(Q, B, C)` over the operands' raw pointers.
    func timed(_ product: @escaping @Sendable (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void)
        -> (median: Double, min: Double) {
        let r = q.withUnsafeBufferPointer { qb in
            b.withUnsafeBufferPointer { bb in
                c.withUnsafeMutableBufferPointer { cb in
                    let ops = UnsafeTransfer((UnsafeMutablePointer(mutating: qb.baseAddress!),
                                              UnsafeMutablePointer(mutating: bb.baseAddress!), cb.baseAddress!))
                    return measure(repeats: repeats) { product(ops.value.0, ops.value.1, ops.value.2) }
                }
            }
        }
        sink += c[0]
        return r
    }
    let t = timed { Q, B, C in
        let ops = UnsafeTransfer((Q, B, C))
        parallelRanges(n, threads: threads, minPerThread: 256) { c0, c1 in
            let (Q, B, C) = ops.value
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(c1 - c0), Int32(k), 1,
                        Q, Int32(k), B + c0 * k, Int32(k), 0, C + c0, Int32(n))
        }
    }
    // The same product with vdb's packed GEMM, as exact batch search runs it on AVX-512: each
    // thread packs its columns (timed: packing is part of the product) and multiplies.
    let parts = max(1, min(threads, n / 256))
    let packedPerPart = vdb_gemm_packed_count((n + parts - 1) / parts, k)
    let packed = UnsafeTransfer((0..<parts).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: packedPerPart) })
    defer { for p in packed.value { p.deallocate() } }
    let tv = timed { Q, B, C in
        let ops = UnsafeTransfer((Q, B, C))
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let (Q, B, C) = ops.value
            let c0 = n * p / parts, c1 = n * (p + 1) / parts
            vdb_gemm_pack(B + c0 * k, c1 - c0, k, packed.value[p])
            _ = vdb_gemm(Q, k, m, packed.value[p], c1 - c0, k, nil, 0, C + c0, n, 0, c1 - c0)
        }
    }
    let gflops = 2 * Double(m) * Double(n) * Double(k) / t.median / 1e9
    let vdbGflops = 2 * Double(m) * Double(n) * Double(k) / tv.median / 1e9
    print("{\"sgemm\": \"\(m)x\(n)x\(k)\", \"threads\": \(threads), \"seconds\": \(t.median), \"min_seconds\": \(t.min), "
          + "\"gflops\": \(gflops), \"blas_core\": \"\(BenchSystem.kernels.blas)\", "
          + "\"vdb_gemm_seconds\": \(tv.median), \"vdb_gemm_gflops\": \(vdbGflops), \"vdb_isa\": \"\(BenchSystem.kernels.vdb)\"}")
}

if let shape = options.sgemm {
    sgemmLimit(m: shape.m, n: shape.n, k: shape.k, threads: options.threads, repeats: options.repeats)
    exit(0)
}
openblas_set_num_threads(Int32(options.threads))

print("vdb-micro-bench  kernels=\(kernelISA)  vectors=\(options.vectors)  repeats=\(options.repeats)  blas threads=\(options.threads)")
print("median (min) ns per vector; sgemm: per query-vector pair, 64 queries x \(options.vectors) vectors per call")
var rows: [[String]] = []
for d in options.dims {
    let n = options.vectors
    var rng = BenchRandom(seed: UInt64(d))
    let base = (0 ..< n * d).map { _ in rng.nextGaussian() }
    let queries = (0 ..< 64 * d).map { _ in rng.nextGaussian() }
    var out = [Float](repeating: 0, count: max(n, 64 * n))
    func row(_ name: String, _ perCall: Int, _ t: (median: Double, min: Double)) {
        rows.append([name, "\(d)", String(format: "%.2f", t.median * 1e9 / Double(perCall)),
                     String(format: "%.2f", t.min * 1e9 / Double(perCall))])
    }
    base.withUnsafeBufferPointer { b in
    queries.withUnsafeBufferPointer { q in
    out.withUnsafeMutableBufferPointer { o in
        let B = b.baseAddress!, Q = q.baseAddress!, O = o.baseAddress!
        row("l2sq (pair loop)", n, measure(repeats: options.repeats) {
            var acc: Float = 0
            for i in 0 ..< n { acc += vdb_l2sq(Q, B + i * d, d) }
            sink += acc
        })
        row("ip (pair loop)", n, measure(repeats: options.repeats) {
            var acc: Float = 0
            for i in 0 ..< n { acc += vdb_ip(Q, B + i * d, d) }
            sink += acc
        })
        row("l2sq_batch", n, measure(repeats: options.repeats) { vdb_l2sq_batch(Q, B, n, d, O); sink += O[n - 1] })
        row("ip_batch", n, measure(repeats: options.repeats) { vdb_ip_batch(Q, B, n, d, O); sink += O[n - 1] })
        row("KernelMetric.l2 score", n, measure(repeats: options.repeats) {
            var acc: Float = 0
            for i in 0 ..< n { acc += KernelMetric.l2.score(Q, B + i * d, dim: d) }
            sink += acc
        })
        row("scan_f32 l2 (index scan)", n, measure(repeats: options.repeats) { vdb_scan_f32(Q, B, n, d, 0, O); sink += O[n - 1] })
        // SQ8 (IVF_SQ8 list scan): train + encode once, then prepare the query and scan all codes.
        var vmin = [Float](repeating: 0, count: d), vdiff = [Float](repeating: 0, count: d)
        vdb_sq8_train(B, n, d, &vmin, &vdiff)
        var codes = [UInt8](repeating: 0, count: n * (4 + d))
        vdb_sq8_encode(B, n, d, nil, vmin, vdiff, &codes)  // no centroid: plain (non-residual) codes
        var wq = [Int16](repeating: 0, count: (d + 63) / 64 * 64)
        for (metricCode, name) in [(Int32(0), "sq8 scan l2"), (Int32(1), "sq8 scan ip")] {
            row(name + " (prepare+scan)", n, measure(repeats: options.repeats) {
                wq.withUnsafeMutableBufferPointer { w in
                    var st = vdb_sq8_query()
                    st.wq = w.baseAddress
                    vdb_sq8_prepare(Q, d, vmin, vdiff, &st)
                    codes.withUnsafeBufferPointer { c in vdb_sq8_scan(&st, c.baseAddress, n, metricCode, 0, O) }
                }
                sink += O[n - 1]
            })
        }
        row("sgemm 64 x n (q.b)", 64 * n, measure(repeats: options.repeats) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 64, Int32(n), Int32(d), 1, Q, Int32(d), B, Int32(d), 0, O, Int32(n))
            sink += O[0]
        })
        row("sgemm 1 x n (q.b)", n, measure(repeats: options.repeats) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1, Int32(n), Int32(d), 1, Q, Int32(d), B, Int32(d), 0, O, Int32(n))
            sink += O[0]
        })
    }}}
}

let header = ["kernel", "d", "ns/vector (median)", "ns/vector (min)"]
var widths = header.map(\.count)
for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
func line(_ cells: [String], _ widths: [Int]) -> String {
    "| " + cells.enumerated().map { i, c in
        let pad = String(repeating: " ", count: widths[i] - c.count)
        return i == 0 ? c + pad : pad + c
    }.joined(separator: " | ") + " |"
}
print(line(header, widths))
print("|" + widths.enumerated().map { i, w in i == 0 ? String(repeating: "-", count: w + 2) : String(repeating: "-", count: w + 1) + ":" }.joined(separator: "|") + "|")
for r in rows { print(line(r, widths)) }
if sink == .infinity { print("") }
