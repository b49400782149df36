// vdb-ann-bench: builds one vdb ANN index on an fvecs dataset (ann-dev layout) and reports, per
// search setting, recall@10, batch QPS, single-query p50/p99, build time, reopen time, memory
// and record bytes, as JSON lines on stdout. Driven by Benchmarks/ann/compare.py.
//
//   swift build -c release --product vdb-ann-bench
//   .build/release/vdb-ann-bench --data ../shared/data/ann-dev --index hnsw --metric l2 --threads 1 \
//       --M 16 --ef-construction 200 --ef 10,16,32,64,128,256,512

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VDBCore
import CVDBKernels
import COpenBLAS

func fail(_ msg: String) -> Never {
    print("vdb-ann-bench: \(msg)")
    exit(2)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func fscanf_double(_ f: UnsafeMutablePointer<FILE>, _ v: inout Double) -> Bool {
    var buf = [CChar](repeating: 0, count: 64)
    guard fgets(&buf, 64, f) != nil else { return false }
    let s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let x = Double(String(s.filter { !$0.isWhitespace })) else { return false }
    v = x
    return true
}

func cpuNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func readVecs<T>(_ path: String, as: T.Type) -> (rows: Int, dim: Int, data: [T]) {
    guard let f = fopen(path, "rb") else { fail("cannot open \(path)") }
    defer { fclose(f) }
    fseek(f, 0, SEEK_END)
    let size = ftell(f)
    fseek(f, 0, SEEK_SET)
    var bytes = [UInt8](repeating: 0, count: size)
    guard fread(&bytes, 1, size, f) == size else { fail("short read \(path)") }
    let d = Int(bytes.withUnsafeBytes { $0.load(as: Int32.self) })
    guard d > 0 else { fail("bad dimension in \(path)") }
    let rowBytes = 4 + 4 * d
    let rows = size / rowBytes
    var out = [T]()
    out.reserveCapacity(rows * d)
    bytes.withUnsafeBytes { raw in
        for r in 0..<rows {
            for j in 0..<d { out.append(raw.load(fromByteOffset: r * rowBytes + 4 + 4 * j, as: T.self)) }
        }
    }
    return (rows, d, out)
}

func opt(_ name: String, _ def: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return def
}

func main() {
let dataDir = opt("--data", "../shared/data/ann-dev")
let kind = opt("--index", "hnsw")
let metricName = opt("--metric", "l2")
let threads = Int(opt("--threads", "1")) ?? 1
let m = Int(opt("--M", "16")) ?? 16
let efc = Int(opt("--ef-construction", "200")) ?? 200
let nlist = Int(opt("--nlist", "1024")) ?? 1024
let efs = opt("--ef", "10,16,32,64,128,256,512").split(separator: ",").compactMap { Int($0) }
let nprobes = opt("--nprobe", "1,2,4,8,16,32,64,128").split(separator: ",").compactMap { Int($0) }
let rerank = CommandLine.arguments.contains("--rerank")
let limit = Int(opt("--limit", "0")) ?? 0
let nq = Int(opt("--queries", "0")) ?? 0
let latencyQueries = Int(opt("--latency-queries", "1000")) ?? 1000
let reps = Int(opt("--reps", "3")) ?? 3

var (n, d, base) = readVecs("\(dataDir)/base.fvecs", as: Float.self)
var (q, _, queries) = readVecs("\(dataDir)/query.fvecs", as: Float.self)
let (_, gtk, gt) = readVecs("\(dataDir)/gt_\(metricName == "l2" ? "l2" : "ip").ivecs", as: Int32.self)
if limit > 0 && limit < n { n = limit; base = Array(base[0..<(n * d)]) }
if nq > 0 && nq < q { q = nq; queries = Array(queries[0..<(q * d)]) }
let metric: KernelMetric = metricName == "l2" ? .l2 : .ip
if metric == .ip {
    func normalize(_ x: inout [Float], _ rows: Int) {
        x.withUnsafeMutableBufferPointer { b in
            for r in 0..<rows {
                let p = b.baseAddress! + r * d
                let nrm = vdb_norm_sq(p, d).squareRoot()
                if nrm > 0 { for j in 0..<d { p[j] /= nrm } }
            }
        }
    }
    normalize(&base, n)
    normalize(&queries, q)
}
// Ground truth: the file's when the whole base is used, else brute force.
var truth = [[UInt32]](repeating: [], count: q)
if limit == 0 {
    for i in 0..<q { truth[i] = (0..<10).map { UInt32(gt[i * gtk + $0]) } }
} else {
    base.withUnsafeBufferPointer { b in
        queries.withUnsafeBufferPointer { qb in
            for i in 0..<q {
                var top = TopK(k: 10)
                for r in 0..<n { top.push(score: metric.score(qb.baseAddress! + i * d, b.baseAddress! + r * d, dim: d), id: UInt64(r)) }
                truth[i] = top.sorted().map { UInt32($0.id) }
            }
        }
    }
}

let slots = (0..<UInt32(n)).map { $0 }
let records = InMemoryIndexRecords()
let params = IndexParameters(nlist: nlist, m: m, efConstruction: efc, seed: 42, buildThreads: threads)
if kind != "hnsw" { openblas_set_num_threads(Int32(threads)) }

// --cache FILE: reuse the records of an earlier build (for profiling searches without rebuilding).
let cache = opt("--cache", "")
if !cache.isEmpty, let f = fopen(cache, "rb") {
    var hdr = [UInt32](repeating: 0, count: 2)
    while fread(&hdr, 4, 2, f) == 2 {
        var key = [UInt8](repeating: 0, count: Int(hdr[0]))
        var val = [UInt8](repeating: 0, count: Int(hdr[1]))
        _ = fread(&key, 1, key.count, f)
        _ = fread(&val, 1, val.count, f)
        try? val.withUnsafeBytes { try records.put(key, $0) }
    }
    fclose(f)
}
let cached = records.recordCount > 0
let t0 = now()
let index: any VectorIndex
if cached {
    do {
        switch kind {
        case "hnsw": index = try HNSWIndex.load(dimension: d, metric: metric, parameters: params, records: records, vectors: ContiguousSlotVectors(vectors: base, dimension: d))
        case "ivf_flat": index = try IVFFlatIndex.load(dimension: d, metric: metric, parameters: params, records: records, vectors: ContiguousSlotVectors(vectors: base, dimension: d))
        default: index = try IVFSQ8Index.load(dimension: d, metric: metric, parameters: params, records: records, vectors: ContiguousSlotVectors(vectors: base, dimension: d))
        }
    } catch { fail("cached records do not load: \(error)") }
} else {
do {
    switch kind {
    case "hnsw":
        index = try slots.withUnsafeBufferPointer { s in try base.withUnsafeBufferPointer { v in
            try HNSWIndex.build(dimension: d, metric: metric, parameters: params, slots: s, vectors: v, writer: records, progress: nil) } }
    case "ivf_flat":
        index = try slots.withUnsafeBufferPointer { s in try base.withUnsafeBufferPointer { v in
            try IVFFlatIndex.build(dimension: d, metric: metric, parameters: params, slots: s, vectors: v, writer: records, progress: nil) } }
    case "ivf_sq8":
        let sq = try slots.withUnsafeBufferPointer { s in try base.withUnsafeBufferPointer { v in
            try IVFSQ8Index.build(dimension: d, metric: metric, parameters: params, slots: s, vectors: v, writer: records, progress: nil) } }
        index = sq  // rerank is a collection stage now: this raw-index harness reports SQ8 distances
    default: fail("unknown index \(kind)")
    }
} catch { fail("build failed: \(error)") }
}
// With a cache hit there was no build: report the build time stored next to the cache.
var buildSeconds = now() - t0
if !cache.isEmpty {
    if cached, let f = fopen(cache + ".build_s", "r") {
        var v: Double = 0
        if fscanf_double(f, &v) { buildSeconds = v }
        fclose(f)
    } else if !cached, let f = fopen(cache + ".build_s", "w") {
        fputs("\(buildSeconds)\n", f)
        fclose(f)
    }
}
if !cache.isEmpty && !cached, let f = fopen(cache, "wb") {
    try? records.forEach(prefix: []) { k, v in
        var hdr: [UInt32] = [UInt32(k.count), UInt32(v.count)]
        fwrite(&hdr, 4, 2, f)
        fwrite(k, 1, k.count, f)
        fwrite(v.baseAddress, 1, v.count, f)
    }
    fclose(f)
}

// Reopen from the records (what opening a database costs), and search the reopened index.
let t1 = now()
let reopened: any VectorIndex
do {
    switch kind {
    case "hnsw": reopened = try HNSWIndex.load(dimension: d, metric: metric, parameters: params, records: records, vectors: ContiguousSlotVectors(vectors: base, dimension: d))
    case "ivf_flat": reopened = try IVFFlatIndex.load(dimension: d, metric: metric, parameters: params, records: records, vectors: ContiguousSlotVectors(vectors: base, dimension: d))
    default:
        reopened = try IVFSQ8Index.load(dimension: d, metric: metric, parameters: params, records: records, vectors: ContiguousSlotVectors(vectors: base, dimension: d))
    }
} catch { fail("load failed: \(error)") }
let loadSeconds = now() - t1
_ = index

let settings: [SearchParameters] = kind == "hnsw"
    ? efs.map { SearchParameters(nprobe: 1, ef: max($0, 10), rerank: false, threads: threads) }
    : nprobes.map { SearchParameters(nprobe: $0, ef: 10, rerank: rerank, threads: threads) }

final class Results: @unchecked Sendable {
    var ids: [[UInt32]]
    init(_ n: Int) { ids = Array(repeating: [], count: n) }
}

for sp in settings {
    let res = Results(q)
    var times: [Double] = []
    var cpuTimes: [Double] = []
    let qcount = q
    let dd = d
    let box = UncheckedBox(reopened)
    for _ in 0..<reps {
        let t = now()
        let c = cpuNow()
        queries.withUnsafeBufferPointer { qb in
            let qbox = UncheckedBox(qb)
            runParallel(count: qcount, threads: threads) { i in
                let r = (try? box.value.search(query: qbox.value.baseAddress! + i * dd, k: 10, parameters: sp, visibility: nil, filter: nil)) ?? []
                res.ids[i] = r.map(\.slot)
            }
        }
        times.append(now() - t)
        cpuTimes.append(cpuNow() - c)
    }
    times.sort()
    cpuTimes.sort()
    let cpuQPS = Double(q) / cpuTimes[cpuTimes.count / 2]
    let qps = Double(q) / times[times.count / 2]
    var hits = 0
    for i in 0..<q { hits += Set(res.ids[i]).intersection(truth[i]).count }
    let recall = Double(hits) / Double(q * 10)
    // Single-query latency, one at a time.
    var lat: [Double] = []
    queries.withUnsafeBufferPointer { qb in
        for i in 0..<min(q, latencyQueries) {
            let t = now()
            _ = try? reopened.search(query: qb.baseAddress! + i * d, k: 10, parameters: sp, visibility: nil, filter: nil)
            lat.append(now() - t)
        }
    }
    lat.sort()
    let p50 = lat[lat.count / 2] * 1000, p99 = lat[min(lat.count - 1, Int(Double(lat.count) * 0.99))] * 1000
    let param = kind == "hnsw" ? "\"ef\": \(sp.ef)" : "\"nprobe\": \(sp.nprobe), \"rerank\": \(sp.rerank)"
    print("{\"family\": \"vdb-\(kind)\", \"metric\": \"\(metricName)\", \"threads\": \(threads), \(param), \"M\": \(m), \"efConstruction\": \(efc), \"nlist\": \(nlist), \"build_s\": \(buildSeconds), \"load_s\": \(loadSeconds), \"recall\": \(recall), \"qps\": \(qps), \"cpu_qps\": \(cpuQPS), \"p50_ms\": \(p50), \"p99_ms\": \(p99), \"memory_bytes\": \(reopened.memoryBytes), \"record_bytes\": \(records.totalBytes), \"records\": \(records.recordCount), \"largest_record\": \(records.largestValue), \"isa\": \"\(kernelISA)\"}")
}
}

main()

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

/// Runs body(i) for i in 0..<count on `threads` POSIX threads pulling indices from a shared counter.
func runParallel(count: Int, threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
    if threads <= 1 { for i in 0..<count { body(i) }; return }
    final class Ctx: @unchecked Sendable {
        var next: UInt64 = 0
        let count: Int
        let body: @Sendable (Int) -> Void
        init(count: Int, body: @escaping @Sendable (Int) -> Void) { self.count = count; self.body = body }
    }
    let ctx = Ctx(count: count, body: body)
    var tids: [pthread_t] = []
    for _ in 0..<threads {
        var tid = pthread_t()
        let arg = Unmanaged.passRetained(ctx).toOpaque()
        pthread_create(&tid, nil, { p in
            let c = Unmanaged<Ctx>.fromOpaque(p!).takeRetainedValue()
            while true {
                let i = Int(vdb_atomic_fetch_add(&c.next, 1))
                if i >= c.count { break }
                c.body(i)
            }
            return nil
        }, arg)
        tids.append(tid)
    }
    for t in tids { pthread_join(t, nil) }
}
