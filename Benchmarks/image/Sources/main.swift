// Measures CLIPImageLoader.pixels(fromFile:) throughput (file read + JPEG decode + Pillow-exact
// bicubic resize + centre crop + normalize) on a folder of images, with 1 and N threads.
// Usage: vdb-image-bench DIR [--threads 1,2] [--passes 5]
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VDBBench
import VDBCLIP

struct Args {
    var dir = ""
    var threads = [1, 2]
    var passes = 5
}

func parseArgs() -> Args {
    var a = Args()
    var it = CommandLine.arguments.dropFirst().makeIterator()
    while let arg = it.next() {
        switch arg {
        case "--threads": a.threads = (it.next() ?? "1").split(separator: ",").compactMap { Int($0) }
        case "--passes": a.passes = Int(it.next() ?? "5") ?? 5
        default: a.dir = arg
        }
    }
    return a
}

final class Files: Sendable {  // immutable after init; shared read-only across threads
    let paths: [String]
    init(_ p: [String]) { paths = p }
}

let args = parseArgs()
guard !args.dir.isEmpty,
      let names = try? FileManager.default.contentsOfDirectory(atPath: args.dir) else {
    print("usage: vdb-image-bench DIR [--threads 1,2] [--passes 5]")
    exit(2)
}
let files = Files(names.filter { $0.hasSuffix(".jpg") }.sorted().map { args.dir + "/" + $0 })
guard !files.paths.isEmpty else { print("no .jpg files in \(args.dir)"); exit(2) }

// sanity + warm-up (page cache, allocator)
var checksum: Float = 0
for p in files.paths {
    let t = try CLIPImageLoader.pixels(fromFile: p)
    precondition(t.width == 224 && t.height == 224)
    checksum += t.data[12345]
}

/// Returns (images per wall-clock second, images per CPU second).
func run(threads: Int) -> (Double, Double) {
    let cpu0 = BenchSystem.cpuSeconds()
    let start = BenchSystem.nanoseconds()
    DispatchQueue.concurrentPerform(iterations: threads) { worker in
        var i = worker
        while i < files.paths.count {
            _ = try? CLIPImageLoader.pixels(fromFile: files.paths[i])
            i += threads
        }
    }
    let secs = Double(BenchSystem.nanoseconds() - start) / 1e9
    let cpu = BenchSystem.cpuSeconds() - cpu0
    return (Double(files.paths.count) / secs, Double(files.paths.count) / cpu)
}

print("vdb image preprocessing: \(files.paths.count) files from \(args.dir) (checksum \(checksum))")
for t in args.threads {
    var rates: [Double] = []
    var cpuRates: [Double] = []
    for _ in 0..<args.passes {
        let (r, c) = run(threads: t)
        rates.append(r)
        cpuRates.append(c)
    }
    print(String(format: "vdb threads=%d wall images/s median %.1f (min %.1f max %.1f); per CPU-second %.1f",
                 t, BenchStatistics.median(rates), rates.min() ?? .nan, rates.max() ?? .nan, BenchStatistics.median(cpuRates)))
}
