// Shared by the torture tests: child processes with timeouts and kills, deterministic data,
// brute-force search, peak memory, and the one-line JSON report every test prints.
import Foundation
import VDBCore
import VDBSupport
#if canImport(Glibc)
import Glibc
#endif

/// A fatal problem of the harness itself (not a finding about vdb).
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// What one torture test found: counters and every failure, printed as one JSON line.
struct Report: Encodable {
    var test: String
    var seconds: Double = 0
    var counters: [String: Int] = [:]
    var notes: [String: String] = [:]
    var failures: [String] = []
    var passed: Bool { failures.isEmpty }

    init(_ test: String) { self.test = test }

    mutating func count(_ key: String, _ n: Int = 1) { counters[key, default: 0] += n }
    mutating func fail(_ message: String) {
        if failures.count < 200 { failures.append(message) }
        count("failures")
        FileHandle.standardError.write(Data("FAIL [\(test)] \(message)\n".utf8))
    }

    enum CodingKeys: String, CodingKey { case test, seconds, counters, notes, failures, passed }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(test, forKey: .test)
        try c.encode((seconds * 10).rounded() / 10, forKey: .seconds)
        try c.encode(counters, forKey: .counters)
        try c.encode(notes, forKey: .notes)
        try c.encode(failures, forKey: .failures)
        try c.encode(passed, forKey: .passed)
    }

    /// Prints the report as one JSON line on stdout.
    func print() {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        if let d = try? e.encode(self) { FileHandle.standardOutput.write(d + Data("\n".utf8)) }
    }
}

func log(_ text: String) {
    FileHandle.standardError.write(Data("[torture] \(text)\n".utf8))
}

// MARK: - processes

/// How a child process ended.
struct ChildResult {
    var status: Int32
    /// Killed by a signal (ours or a crash).
    var signal: Int32?
    var stdout: String
    var stderr: String
    var seconds: Double
    var timedOut: Bool
    var killedByUs: Bool
    /// Peak resident memory of the child (from wait4's rusage), bytes.
    var maxRSS: Int
}

/// A child process whose output goes to files (so a killed child cannot block a reader).
final class Child: @unchecked Sendable {  // pid and paths are set once; `reaped` only by the owning thread
    let pid: pid_t
    let outPath: String, errPath: String
    let started = Date()
    private var reaped: (status: Int32, usage: rusage)?

    init(_ executable: String, _ args: [String], env: [String: String] = [:], stdin: String? = nil, workDir: String) throws {
        let id = UUID().uuidString
        outPath = workDir + "/.out-\(id)"
        errPath = workDir + "/.err-\(id)"
        for path in [outPath, errPath] where !FileManager.default.createFile(atPath: path, contents: nil) {
            throw HarnessError("cannot create \(path) for the child's output")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["VDB_DB"] = nil
        for (k, v) in env { environment[k] = v }
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        var inPath = "/dev/null"
        if let stdin {
            inPath = workDir + "/.in-\(id)"
            try stdin.write(toFile: inPath, atomically: false, encoding: .utf8)
        }
        posix_spawn_file_actions_addopen(&fileActions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, outPath, O_WRONLY | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fileActions, 2, errPath, O_WRONLY | O_TRUNC, 0o644)
        let argv = ([executable] + args).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        var p: pid_t = 0
        let rc = posix_spawn(&p, executable, &fileActions, nil, argv, envp)
        if stdin != nil { try? FileManager.default.removeItem(atPath: inPath) }
        guard rc == 0 else { throw HarnessError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        pid = p
    }

    /// Reaps the child if it has ended; returns whether it has.
    @discardableResult
    func poll() -> Bool {
        if reaped != nil { return true }
        var status: Int32 = 0
        var usage = rusage()
        if wait4(pid, &status, WNOHANG, &usage) == pid { reaped = (status, usage); return true }
        return false
    }

    func signal(_ sig: Int32) { if !poll() { kill(pid, sig) } }

    /// Waits for the end (SIGKILL after `timeout` seconds) and collects the outcome.
    func wait(timeout: Double = 600, killedByUs: Bool = false) -> ChildResult {
        var timedOut = false
        while !poll() {
            if Date().timeIntervalSince(started) >= timeout && !timedOut { kill(pid, SIGKILL); timedOut = true }
            usleep(1000)
        }
        let (status, usage) = reaped!
        let sig: Int32? = (status & 0x7f) != 0 ? status & 0x7f : nil
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
        return ChildResult(status: (status >> 8) & 0xff, signal: sig, stdout: out, stderr: err,
                           seconds: Date().timeIntervalSince(started), timedOut: timedOut,
                           killedByUs: killedByUs && sig == SIGKILL, maxRSS: Int(usage.ru_maxrss) * 1024)
    }
}

/// Runs `executable args` to completion, or kills it with SIGKILL after `killAfter` seconds
/// (a deliberate kill) or `timeout` seconds (a hang).
func runChild(_ executable: String, _ args: [String], env: [String: String] = [:], killAfter: Double? = nil,
              timeout: Double = 600, stdin: String? = nil, workDir: String) throws -> ChildResult {
    let child = try Child(executable, args, env: env, stdin: stdin, workDir: workDir)
    var killed = false
    while !child.poll() {
        let elapsed = Date().timeIntervalSince(child.started)
        if let killAfter, elapsed >= killAfter { kill(child.pid, SIGKILL); killed = true; break }
        if elapsed >= timeout { break }
        usleep(killAfter != nil ? 300 : 2000)
    }
    return child.wait(timeout: timeout, killedByUs: killed)
}

/// The running executable's directory (where `vdb` is built next to `vdb-torture`).
func siblingExecutable(_ name: String) -> String {
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    return me.deletingLastPathComponent().appendingPathComponent(name).path
}

/// This process's peak resident memory in bytes (VmHWM).
func peakRSS() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}

// MARK: - data

/// The vector stored under `id` in the torture collections: a deterministic function of the id.
func vectorFor(id: UInt64, dimension: Int) -> [Float] {
    var rng = SplitMix64(seed: id &* 0x9E37_79B9_7F4A_7C15 &+ 17)
    return (0..<dimension).map { _ in Float(Int(rng.next() % 20001) - 10000) / 10000 }
}

func writeFvecs(_ path: String, ids: Range<UInt64>, dimension: Int) throws {
    var data = Data(capacity: ids.count * (4 + 4 * dimension))
    for id in ids {
        var d = Int32(dimension).littleEndian
        withUnsafeBytes(of: &d) { data.append(contentsOf: $0) }
        vectorFor(id: id, dimension: dimension).withUnsafeBytes { data.append(contentsOf: $0) }
    }
    try data.write(to: URL(fileURLWithPath: path))
}

/// Exact top-k by brute force in Double (ties: smaller id), as (id, distance).
func bruteForce(_ ids: [UInt64], _ vectors: [Float], dimension d: Int, query q: [Float], k: Int, metric: Metric) -> [(UInt64, Double)] {
    var qq = q.map(Double.init)
    if metric == .cosine { let n = qq.reduce(0) { $0 + $1 * $1 }.squareRoot(); qq = qq.map { $0 / n } }
    var scored: [(UInt64, Double, Double)] = []
    scored.reserveCapacity(ids.count)
    for (i, id) in ids.enumerated() {
        var s = 0.0
        for j in 0..<d {
            let x = Double(vectors[i * d + j])
            if metric == .l2 { let t = x - qq[j]; s += t * t } else { s -= x * qq[j] }
        }
        scored.append((id, s, metric == .l2 ? s : -s))
    }
    scored.sort { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
    return scored.prefix(k).map { ($0.0, $0.2) }
}

/// Whether a search result matches the brute-force one: same distances (to float rounding) and
/// the same ids, except that ids whose distances tie within rounding may come in either order.
func matchesBruteForce(_ hits: [SearchHit], _ exact: [(UInt64, Double)]) -> Bool {
    guard hits.count == exact.count else { return false }
    for (h, e) in zip(hits, exact) where abs(Double(h.distance) - e.1) > 1e-4 * max(1, abs(e.1)) { return false }
    // Group by (rounded) distance and compare id sets within each group.
    var i = 0
    while i < exact.count {
        var j = i + 1
        while j < exact.count && abs(exact[j].1 - exact[i].1) <= 1e-4 * max(1, abs(exact[i].1)) { j += 1 }
        if j == exact.count && i > 0 {
            // The last group may be cut by k: only the ids within it must come from ties.
            return true
        }
        if Set(hits[i..<j].map(\.id)) != Set(exact[i..<j].map(\.0)) { return false }
        i = j
    }
    return true
}

/// Checks every collection of the database at `path`: `Database.check` passes, and an exact
/// search (every list / candidate re-scored) equals brute force over the stored vectors.
func checkDatabase(_ path: String, queries: Int, seed: UInt64, report: inout Report, context: String) -> Bool {
    do {
        let db = try Database(path: path)
        let r = try db.check()
        if !r.ok {
            report.fail("\(context): vdb check: \(r.problems + r.collections.flatMap { c in c.problems.map { "\(c.name): \($0)" } })")
            return false
        }
        report.count("checks")
        var rng = SplitMix64(seed: seed)
        for name in try db.collectionNames() {
            let c = try db.collection(named: name)
            let (ids, vectors) = try c.allVectors()
            if ids.isEmpty { continue }
            for _ in 0..<queries {
                let q = (0..<c.dimension).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
                let k = min(10, ids.count)
                let exact = bruteForce(ids, vectors, dimension: c.dimension, query: q, k: k, metric: c.metric)
                let hits = try c.search(q, k: k, parameters: SearchParameters(nprobe: Int.max, ef: Int.max, rerank: true, rerankFactor: Int.max))
                if !matchesBruteForce(hits, exact) {
                    report.fail("\(context): exact search of '\(name)' differs from brute force: \(hits.map(\.id)) vs \(exact.map(\.0))")
                    return false
                }
                report.count("exact searches")
            }
        }
        return true
    } catch {
        report.fail("\(context): \(error)")
        return false
    }
}
