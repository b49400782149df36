// 8 readers and 1 writer, in one process (threads) and across processes. The writer commits, in
// one `db.write { }` each, batches of 50 vectors into two collections at once, deletes whole
// batches, and builds and drops indexes. Every reader, in one snapshot (`db.read { }`), checks that
// it sees only committed states: both collections hold the same ids, in whole batches, every
// stored vector is the one written under its id, and searching for it finds it.
import Foundation
import Synchronization
import VDBCore
import VDBSupport

enum ConcurrencyTorture {
    static let dimension = 8
    static let batch = 50
    static let names = ("cc", "cc2")

    static func prepare(_ path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        let db = try Database(path: path)
        try db.createCollection(name: names.0, dimension: dimension, metric: .l2)
        try db.createCollection(name: names.1, dimension: dimension, metric: .cosine)
    }

    /// Runs the writer until `deadline`; returns its report.
    static func writer(_ path: String, until deadline: Date, seed: UInt64) -> Report {
        var report = Report("writer")
        var rng = SplitMix64(seed: seed)
        do {
            let db = try Database(path: path)
            var next = try db.collection(named: names.0).allVectors().ids.max().map { ($0 / UInt64(batch)) + 1 } ?? 0
            var op = 0
            while Date() < deadline {
                op += 1
                if op % 7 == 0 {
                    // Delete a whole stored batch from both collections.
                    let ids = try db.collection(named: names.0).allVectors().ids
                    if let some = ids.randomElement(using: &rng) {
                        let b = some / UInt64(batch)
                        let batchIDs = (0..<UInt64(batch)).map { b * UInt64(batch) + $0 }
                        try db.write { txn in
                            try txn.collection(named: names.0).delete(ids: batchIDs)
                            try txn.collection(named: names.1).delete(ids: batchIDs)
                        }
                        report.count("batches deleted")
                    }
                } else if op % 40 == 0 {
                    let kind: IndexKind = [.hnsw, .ivfFlat, .flat][Int(rng.next() % 3)]
                    let c = try db.collection(named: names.0)
                    let stored = try c.count()
                    if kind == .flat || stored >= 64 {
                        try c.buildIndex(kind: kind, parameters: IndexParameters(nlist: 8, m: 8, efConstruction: 32, buildThreads: 1))
                        report.count("index builds")
                    }
                } else {
                    let ids = (0..<UInt64(batch)).map { next * UInt64(batch) + $0 }
                    let vectors = ids.map { vectorFor(id: $0, dimension: dimension) }
                    let b = Int64(next)
                    try db.write { txn in
                        try txn.collection(named: names.0).insert(vectors, ids: ids, metadata: ids.map { _ in ["b": .int(b)] })
                        try txn.collection(named: names.1).insert(vectors, ids: ids)
                    }
                    next += 1
                    report.count("batches written")
                }
            }
        } catch {
            report.fail("writer: \(error)")
        }
        return report
    }

    /// Reads snapshots until `deadline`, checking each; returns the reader's report.
    static func reader(_ path: String, until deadline: Date, seed: UInt64, name: String = "reader") -> Report {
        var report = Report(name)
        var rng = SplitMix64(seed: seed)
        do {
            let db = try Database(path: path)
            while Date() < deadline {
                try db.read { s in
                    let a = try s.collection(named: names.0), b = try s.collection(named: names.1)
                    let n = try a.count()
                    if n != (try b.count()) { report.fail("the two collections hold \(n) and \(try b.count()) vectors in one snapshot") }
                    if n % batch != 0 { report.fail("\(n) vectors: not whole batches of \(batch)") }
                    guard n > 0 else { report.count("empty snapshots"); return }
                    // Probe ids of recent batches: present in both or neither, with their own vectors.
                    for _ in 0..<4 {
                        let id = UInt64(rng.next() % UInt64(max(1, n * 3)))
                        let ra = try a.get(id: id), rb = try b.get(id: id)
                        if (ra == nil) != (rb == nil) { report.fail("id \(id) is in one collection only in one snapshot") }
                        guard let ra else { continue }
                        let want = vectorFor(id: id, dimension: dimension)
                        if ra.vector != want { report.fail("id \(id) holds another vector") }
                        if ra.metadata["b"] != .int(Int64(id / UInt64(batch))) { report.fail("id \(id) has metadata \(ra.metadata)") }
                        let hits = try a.search(want, k: 1, parameters: SearchParameters(nprobe: 64, ef: 256))
                        if hits.first?.id != id || (hits.first?.distance ?? 1) > 1e-5 {
                            report.fail("searching id \(id)'s vector found \(hits.map { ($0.id, $0.distance) })")
                        }
                        // Its whole batch is there.
                        let b0 = id / UInt64(batch) * UInt64(batch)
                        if try a.contains(ids: (0..<UInt64(batch)).map { b0 + $0 }).contains(false) { report.fail("batch of id \(id) is partly stored") }
                        report.count("probes")
                    }
                    report.count("snapshots")
                }
            }
        } catch {
            report.fail("reader: \(error)")
        }
        return report
    }

    /// Readers and writer as threads of this process.
    static func inProcess(work: String, readers: Int, seconds: Double, seed: UInt64) throws -> Report {
        let path = work + "/inprocess"
        try prepare(path)
        let start = Date(), deadline = start.addingTimeInterval(seconds)
        let reports = Mutex<[Report]>([])
        let group = DispatchGroup()
        for r in 0...readers {
            DispatchQueue.global().async(group: group) {
                let rep = r == 0 ? writer(path, until: deadline, seed: seed) : reader(path, until: deadline, seed: seed &+ UInt64(r))
                reports.withLock { $0.append(rep) }
            }
        }
        group.wait()
        var total = merge(reports.withLock { $0 }, as: "concurrency in-process (\(readers) readers + 1 writer)")
        _ = checkDatabase(path, queries: 3, seed: seed, report: &total, context: "after the in-process run")
        total.seconds = Date().timeIntervalSince(start)
        return total
    }

    /// Readers and writer as separate processes (`vdb-torture reader|writer`).
    static func crossProcess(work: String, readers: Int, seconds: Double, seed: UInt64) throws -> Report {
        let path = work + "/processes"
        try prepare(path)
        let start = Date()
        let me = CommandLine.arguments[0]
        var children: [Child] = []
        for r in 0...readers {
            children.append(try Child(me, [r == 0 ? "writer" : "reader", "--db", path, "--seconds", String(seconds), "--seed", String(seed &+ UInt64(r))], workDir: work))
        }
        var reports: [Report] = []
        var total = Report("x")
        for c in children {
            let result = c.wait(timeout: seconds + 120)
            if let sig = result.signal { total.fail("a \(c.pid) child died of signal \(sig): \(result.stderr.suffix(300))") }
            guard let line = result.stdout.split(separator: "\n").last, let data = line.data(using: .utf8),
                  let decoded = try? JSONDecoder().decode(DecodedReport.self, from: data) else {
                total.fail("a child printed no report (exit \(result.status)): \(result.stderr.suffix(300))")
                continue
            }
            var r = Report(decoded.test)
            r.counters = decoded.counters
            r.failures = decoded.failures
            reports.append(r)
        }
        var merged = merge(reports, as: "concurrency across processes (\(readers) readers + 1 writer)")
        merged.failures += total.failures
        if !total.failures.isEmpty { merged.count("failures", total.failures.count) }
        _ = checkDatabase(path, queries: 3, seed: seed, report: &merged, context: "after the cross-process run")
        merged.seconds = Date().timeIntervalSince(start)
        return merged
    }

    struct DecodedReport: Decodable {
        var test: String
        var counters: [String: Int]
        var failures: [String]
    }

    static func merge(_ reports: [Report], as name: String) -> Report {
        var total = Report(name)
        for r in reports {
            for (k, v) in r.counters { total.count(k, v) }
            total.failures += r.failures
        }
        return total
    }
}
