// vdb-torture: the reliability torture tests of Docs/reliability.md. Run through
// Benchmarks/torture/ci.sh (reduced, for CI) or Benchmarks/torture/run.sh (the full run).
//
//   vdb-torture kill        --cycles N [--seed S] [--work DIR]
//   vdb-torture fuzz        --count N [--kinds jpeg,png,...] [--timeout SECONDS]
//   vdb-torture concurrency --seconds S [--readers 8] [--mode inprocess|processes|both]
//   vdb-torture fulldisk    --tmpfs DIR
//   vdb-torture ioerrors    --shim failio.so [--points 1,2,3,...]
//   vdb-torture summary     --results results.jsonl      (a Markdown table of the reports)
//
// Every test prints one JSON line per report (test, seconds, counters, failures, passed) on
// stdout and progress on stderr; the exit status is 1 when any report has a failure.
// `--vdb PATH` (default: the vdb built next to this executable), `--repo DIR` (default: the
// current directory, the repository root) and `--work DIR` (default /tmp/vdb-torture) apply to all.
import Foundation
import VDBCore

struct Arguments {
    var command: String
    var values: [String: String] = [:]

    init(_ argv: [String]) throws {
        guard let first = argv.first else { throw HarnessError("usage: vdb-torture kill|fuzz|concurrency|fulldisk|ioerrors [--option value]...") }
        command = first
        var i = 1
        while i < argv.count {
            let a = argv[i]
            guard a.hasPrefix("--"), i + 1 < argv.count else { throw HarnessError("expected --option value, got '\(a)'") }
            values[String(a.dropFirst(2))] = argv[i + 1]
            i += 2
        }
    }

    func string(_ key: String, _ def: String) -> String { values[key] ?? def }
    func int(_ key: String, _ def: Int) throws -> Int {
        guard let v = values[key] else { return def }
        guard let n = Int(v), n >= 0 else { throw HarnessError("--\(key) must be a non-negative integer (got \(v))") }
        return n
    }
    func double(_ key: String, _ def: Double) throws -> Double {
        guard let v = values[key] else { return def }
        guard let n = Double(v), n >= 0 else { throw HarnessError("--\(key) must be a non-negative number (got \(v))") }
        return n
    }
}

func main() throws -> Int32 {
    let args = try Arguments(Array(CommandLine.arguments.dropFirst()))
    let vdb = args.string("vdb", siblingExecutable("vdb"))
    let repo = URL(fileURLWithPath: args.string("repo", FileManager.default.currentDirectoryPath))
    let work = args.string("work", "/tmp/vdb-torture")
    let seed = UInt64(try args.int("seed", 1))
    var reports: [Report] = []
    switch args.command {
    case "kill":
        reports.append(try KillTorture(vdb: vdb, work: work, cycles: try args.int("cycles", 50), seed: seed,
                                       model: args.string("model", repo.appendingPathComponent("Models/demo-clip").path),
                                       photos: args.string("photos", repo.appendingPathComponent("Samples/photos").path)).run())
    case "fuzz":
        let kinds = try args.string("kinds", FuzzKind.allCases.map(\.rawValue).joined(separator: ",")).split(separator: ",").map { name in
            guard let k = FuzzKind(rawValue: String(name)) else { throw HarnessError("unknown fuzz kind \(name)") }
            return k
        }
        reports += try FuzzTorture(vdb: vdb, work: work, kinds: kinds, count: try args.int("count", 100), seed: seed, repo: repo,
                                   timeout: try args.double("timeout", 30)).run()
    case "fuzz-worker":
        guard let kind = FuzzKind(rawValue: args.string("kind", "")) else { throw HarnessError("--kind") }
        try FuzzWorker(kind: kind, work: work, repo: repo).run()
        return 0
    case "concurrency":
        let seconds = try args.double("seconds", 20), readers = try args.int("readers", 8)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let mode = args.string("mode", "both")
        if mode != "processes" { reports.append(try ConcurrencyTorture.inProcess(work: work, readers: readers, seconds: seconds, seed: seed)) }
        if mode != "inprocess" { reports.append(try ConcurrencyTorture.crossProcess(work: work, readers: readers, seconds: seconds, seed: seed)) }
    case "reader", "writer":
        let deadline = Date().addingTimeInterval(try args.double("seconds", 10))
        let db = args.string("db", "")
        let r = args.command == "writer" ? ConcurrencyTorture.writer(db, until: deadline, seed: seed)
                                         : ConcurrencyTorture.reader(db, until: deadline, seed: seed)
        r.print()
        return 0
    case "fulldisk":
        guard let tmpfs = args.values["tmpfs"] else { throw HarnessError("--tmpfs DIR (a small mounted file system) is required") }
        reports.append(try DiskTorture(vdb: vdb, work: work, seed: seed).fullDisk(tmpfs: tmpfs, repo: repo))
    case "ioerrors":
        guard let shim = args.values["shim"] else { throw HarnessError("--shim failio.so is required") }
        let points = try args.string("points", "1,2,3,4,6,8,12,16,24,32").split(separator: ",").map { p in
            guard let n = Int(p), n > 0 else { throw HarnessError("--points: '\(p)' is not a positive integer") }
            return n
        }
        reports.append(try DiskTorture(vdb: vdb, work: work, seed: seed).ioErrors(shim: shim, points: points))
    case "summary":
        // A Markdown table of the reports in a results file (one JSON line each).
        let text = try String(contentsOfFile: args.string("results", "results.jsonl"), encoding: .utf8)
        print("| test | result | seconds | counts |")
        print("|---|---|---|---|")
        var ok = true
        for line in text.split(separator: "\n") {
            guard let r = try? JSONDecoder().decode(ConcurrencyTorture.DecodedReport.self, from: Data(line.utf8)),
                  let seconds = (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["seconds"] as? Double else { continue }
            let counts = r.counters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print("| \(r.test) | \(r.failures.isEmpty ? "passed" : "**FAILED** (\(r.failures.count))") | \(String(format: "%.0f", seconds)) | \(counts) |")
            ok = ok && r.failures.isEmpty
        }
        return ok ? 0 : 1
    default:
        throw HarnessError("unknown test '\(args.command)'")
    }
    for r in reports { r.print() }
    return reports.allSatisfy(\.passed) ? 0 : 1
}

do {
    exit(try main())
} catch {
    FileHandle.standardError.write(Data("vdb-torture: \(error)\n".utf8))
    exit(2)
}
