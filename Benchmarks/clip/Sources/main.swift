// CLIP tower throughput and peak memory (not a test). See Docs/benchmarks-clip.md.
//
//   swift build -c release --product vdb-clip-bench
//   .build/release/vdb-clip-bench MODEL_DIR [--threads 1,2] [--image-batch 32] [--text-batch 256]
//                             [--repeats 3] [--only image|text] [--text-tokens N] [--json]
//                             [--precision float32|bfloat16] [--accuracy N]
//
// Prints images/s for the vision tower (batches of random normalized 224x224 pixel tensors) and
// texts/s for the text tower (batches of full 77-token inputs, so no work is skipped), the median
// over `--repeats` timed batches after one warm-up batch, then peak RSS vs the weights' size.
// `--accuracy N` instead embeds N random images and N random full-length texts with a float32 and a
// bfloat16 model and prints the cosine of each bfloat16 embedding to its float32 one.
import Foundation
import VDBBench
import VDBCLIP
#if canImport(Glibc)
import Glibc
#endif

func arg(_ name: String, _ def: String) -> String {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count { return a[i + 1] }
    return def
}

guard CommandLine.arguments.count >= 2, !CommandLine.arguments[1].hasPrefix("--") else {
    usage()
}

func usage() -> Never {
    FileHandle.standardError.write("usage: vdb-clip-bench MODEL_DIR [--threads 1,2] [--image-batch 32] [--text-batch 256] [--repeats 3] [--only image|text] [--text-tokens N] [--json] [--precision float32|bfloat16] [--accuracy N]\n".data(using: .utf8)!)
    exit(2)
}
let dir = URL(fileURLWithPath: CommandLine.arguments[1])
let threadList = arg("--threads", "1,2").split(separator: ",").compactMap { Int($0) }
let imageBatch = Int(arg("--image-batch", "32")) ?? 32
let textBatch = Int(arg("--text-batch", "256")) ?? 256
let repeats = Int(arg("--repeats", "3")) ?? 3
let only = arg("--only", "")
/// Tokens per text including start and end (default: the full context).
let textTokens = Int(arg("--text-tokens", "0")) ?? 0
let json = CommandLine.arguments.contains("--json")
guard let precision = CLIPPrecision(rawValue: arg("--precision", "float32")) else { usage() }
let accuracyCount = Int(arg("--accuracy", "0")) ?? 0

/// Random normalized pixel tensors and random full-context token ids (start, random ids, end).
func randomPixels(_ count: Int, size s: Int, _ rng: inout BenchRandom) -> [PixelTensor] {
    (0..<count).map { _ in PixelTensor(width: s, height: s, data: (0..<(3 * s * s)).map { _ in Float.random(in: -1.8...2.1, using: &rng) }) }
}
func randomIDs(_ count: Int, tokens: Int, config: CLIPConfig, _ rng: inout BenchRandom) -> [[Int32]] {
    let ctx = config.contextLength, vocab = config.vocabSize
    let eos = Int32(config.eosTokenID == 2 ? vocab - 1 : config.eosTokenID)
    let n = tokens >= 2 ? min(tokens, ctx) : ctx
    return (0..<count).map { _ in
        [Int32(vocab - 2)] + (0..<(n - 2)).map { _ in Int32.random(in: 0..<Int32(vocab - 2), using: &rng) } + [eos]
    }
}

if accuracyCount > 0 {
    var rng = BenchRandom(seed: 7)
    let threads = threadList.first ?? 2
    let f32 = try CLIPModel.load(directory: dir, threads: threads)
    let bf16 = try CLIPModel.load(directory: dir, threads: threads, precision: .bfloat16)
    let pixels = randomPixels(accuracyCount, size: f32.config.imageSize, &rng)
    let ids = randomIDs(accuracyCount, tokens: textTokens, config: f32.config, &rng)
    var out: [String: Any] = ["count": accuracyCount]
    for (tower, a, b) in [("image", try f32.embed(pixels: pixels), try bf16.embed(pixels: pixels)),
                          ("text", try f32.embed(tokenIDs: ids), try bf16.embed(tokenIDs: ids))] {
        let cos = zip(a, b).map { Double(CLIPModel.cosine($0, $1)) }.sorted()
        out[tower] = ["min": cos.first ?? .nan, "median": BenchStatistics.median(cos), "mean": cos.reduce(0, +) / Double(max(1, cos.count))]
        if !json {
            print(String(format: "%@ tower: cosine(bfloat16, float32) min %.6f, median %.6f over %d inputs", tower, cos.first ?? .nan,
                         BenchStatistics.median(cos), cos.count))
        }
    }
    if json { print(String(data: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), encoding: .utf8)!) }
    exit(0)
}

let weightBytes = (try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("model.safetensors").path)[.size] as? Int) ?? 0
var results: [[String: Any]] = []
var rng = BenchRandom(seed: 42)  // seeded and fast, so setup does not dominate the run
for threads in threadList {
    let t0 = Date()
    let model = try CLIPModel.load(directory: dir, threads: threads, precision: precision)
    let loadSeconds = Date().timeIntervalSince(t0)
    let s = model.config.imageSize
    if only != "text" {
        let pixels = randomPixels(imageBatch, size: s, &rng)
        _ = try model.embed(pixels: Array(pixels.prefix(max(1, imageBatch / 4))))
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = Date()
            _ = try model.embed(pixels: pixels)
            times.append(Date().timeIntervalSince(start))
        }
        let rate = Double(imageBatch) / BenchStatistics.median(times)
        results.append(["tower": "image", "threads": threads, "batch": imageBatch, "per_second": rate, "load_seconds": loadSeconds,
                        "precision": precision.rawValue])
        if !json { print(String(format: "vdb image tower  threads=%d batch=%d  %.2f images/s  (median of %d)", threads, imageBatch, rate, repeats)) }
    }
    if only != "image" {
        let ctx = model.config.contextLength
        let ids = randomIDs(textBatch, tokens: textTokens, config: model.config, &rng)
        _ = try model.embed(tokenIDs: Array(ids.prefix(max(1, textBatch / 8))))
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = Date()
            _ = try model.embed(tokenIDs: ids)
            times.append(Date().timeIntervalSince(start))
        }
        let rate = Double(textBatch) / BenchStatistics.median(times)
        results.append(["tower": "text", "threads": threads, "batch": textBatch, "per_second": rate,
                        "tokens": textTokens >= 2 ? min(textTokens, ctx) : ctx, "precision": precision.rawValue])
        if !json { print(String(format: "vdb text tower   threads=%d batch=%d  %.2f texts/s  (%d tokens, median of %d)", threads, textBatch, rate, textTokens >= 2 ? min(textTokens, ctx) : ctx, repeats)) }
    }
}
let rss = BenchSystem.peakResidentBytes()
if json {
    let out: [String: Any] = ["results": results, "peak_rss_bytes": rss, "weights_bytes": weightBytes,
                              "blas_core": BenchSystem.kernels.blas, "vdb_isa": BenchSystem.kernels.vdb]
    print(String(data: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), encoding: .utf8)!)
} else {
    print(String(format: "peak RSS %.0f MB, weights %.0f MB, ratio %.2f", Double(rss) / 1e6, Double(weightBytes) / 1e6, Double(rss) / Double(max(1, weightBytes))))
    print("kernels: OpenBLAS \(BenchSystem.kernels.blas), vdb \(BenchSystem.kernels.vdb)")
}
