// A full disk (a small tmpfs the script mounts) and injected I/O errors (the failio.so shim,
// LD_PRELOAD'ed into `vdb`): every failure is reported with a clear message, the database stays
// intact, and what the message says was committed is exactly what is stored.
import Foundation
import VDBCore
import VDBSupport

struct DiskTorture {
    let vdb: String
    let work: String
    let seed: UInt64

    /// What the message of a failed import says is stored of the file.
    static func claimedRows(_ stderr: String, total: Int) -> Int? {
        if stderr.contains("nothing was imported (the collection is unchanged)") { return 0 }
        guard let r = stderr.range(of: "rows 0..<") else { return nil }
        return Int(stderr[r.upperBound...].prefix { $0.isNumber })
    }

    /// Checks a failed or finished import against the database: the claim matches the count.
    func verifyImport(_ result: ChildResult, db: String, collection: String, before: Int, total: Int,
                      report: inout Report, context: String) {
        do {
            let count = try Database(path: db).collection(named: collection).count()
            if result.status == 0 {
                if count != before + total { report.fail("\(context): finished but holds \(count - before) of \(total) rows") }
                report.count("imports finished")
            } else {
                guard let claimed = Self.claimedRows(result.stderr, total: total) else {
                    report.fail("\(context): exit \(result.status) without saying what is committed: \(result.stderr)")
                    return
                }
                if count - before != claimed {
                    report.fail("\(context): the message claims \(claimed) rows committed, \(count - before) are stored: \(result.stderr)")
                }
                report.count("failures reported correctly")
                report.notes[context] = String(result.stderr.split(separator: "\n").last ?? "")
            }
        } catch {
            report.fail("\(context): reading back: \(error)")
        }
        _ = checkDatabase(db, queries: 1, seed: seed, report: &report, context: context)
    }

    /// Fills a small file system: an atomic import, a resumable one, an ingest and deletes on a
    /// full disk.
    func fullDisk(tmpfs: String, repo: URL) throws -> Report {
        var report = Report("full disk (tmpfs)")
        let start = Date()
        let db = tmpfs + "/db"
        try? FileManager.default.removeItem(atPath: db)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let file = work + "/full.fvecs"
        try writeFvecs(file, ids: 0..<40_000, dimension: 64)  // about 10 MiB stored: more than the file system holds
        guard try runChild(vdb, ["--db", db, "create", "v", "--dim", "64"], workDir: work).status == 0 else { throw HarnessError("create failed") }
        let small = work + "/small.fvecs"
        try writeFvecs(small, ids: 1_000_000..<1_001_000, dimension: 64)
        _ = try runChild(vdb, ["--db", db, "import", "v", small, "--start-id", "1000000"], workDir: work)
        let base = try Database(path: db).collection(named: "v").count()
        report.counters["rows before"] = base
        // All or nothing.
        let atomic = try runChild(vdb, ["--db", db, "import", "v", file, "--start-id", "0"], workDir: work)
        verifyImport(atomic, db: db, collection: "v", before: base, total: 40_000, report: &report, context: "atomic import")
        if atomic.status == 0 { report.fail("the tmpfs is too large: the atomic import fit") }
        if !atomic.stderr.contains("no space left") { report.fail("atomic import: the message does not say the disk is full: \(atomic.stderr)") }
        // Resumable: some batches fit.
        let resumable = try runChild(vdb, ["--db", db, "import", "v", file, "--start-id", "0", "--resume", "--batch-size", "2000"], workDir: work)
        verifyImport(resumable, db: db, collection: "v", before: base, total: 40_000, report: &report, context: "resumable import")
        // Reads, searches and deletes keep working (a delete may itself need pages: then it
        // fails, cleanly).
        let search = try runChild(vdb, ["--db", db, "search", "v", "-k", "3", "--vector", Array(repeating: "0.1", count: 64).joined(separator: ",")], workDir: work)
        if search.status != 0 { report.fail("search on a full disk: \(search.stderr)") }
        let del = try runChild(vdb, ["--db", db, "delete", "v", "--ids", "1000000,1000001,1000002"], workDir: work)
        if del.status != 0 && !del.stderr.contains("no space left") { report.fail("delete on a full disk: \(del.stderr)") }
        report.count(del.status == 0 ? "deletes that fit" : "deletes refused (disk full)")
        // Ingest on a full disk says what it committed.
        let ingest = try runChild(vdb, ["--db", db, "ingest", repo.appendingPathComponent("Samples/photos").path, "--collection", "p",
                                        "--batch-size", "4", "--threads", "1"], workDir: work)
        if ingest.status != 0 {
            if !ingest.stderr.contains("image(s) of this run were committed") && !ingest.stderr.contains("no space left") {
                report.fail("ingest on a full disk: \(ingest.stderr)")
            }
            report.notes["ingest"] = String(ingest.stderr.split(separator: "\n").last ?? "")
        }
        _ = checkDatabase(db, queries: 2, seed: seed, report: &report, context: "after the full-disk runs")
        // After making room (dropping the photos), writes work again.
        _ = try runChild(vdb, ["--db", db, "drop", "p"], workDir: work)
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Injected I/O errors: the `n`-th write or sync of data.mdb fails (once, or from then on),
    /// for n over a range, during atomic and resumable imports.
    func ioErrors(shim: String, points: [Int]) throws -> Report {
        var report = Report("injected I/O errors")
        let start = Date()
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let file = work + "/io.fvecs"
        try writeFvecs(file, ids: 0..<20_000, dimension: 32)
        for n in points {
            for (mode, resume, errnoValue) in [("once", false, 5), ("always", true, 5), ("once", true, 28), ("always", false, 28)] {
                let db = work + "/io-db"
                try? FileManager.default.removeItem(atPath: db)
                guard try runChild(vdb, ["--db", db, "create", "v", "--dim", "32"], workDir: work).status == 0 else { throw HarnessError("create failed") }
                var args = ["--db", db, "import", "v", file]
                if resume { args += ["--resume", "--batch-size", "2500"] }
                let env = ["LD_PRELOAD": shim, "FAILIO_AFTER": String(n), "FAILIO_MODE": mode, "FAILIO_ERRNO": String(errnoValue)]
                let r = try runChild(vdb, args, env: env, timeout: 300, workDir: work)
                let context = "write/sync #\(n) fails (\(mode), errno \(errnoValue))\(resume ? " --resume" : "")"
                if let s = r.signal { report.fail("\(context): vdb died of signal \(s): \(r.stderr)") }
                verifyImport(r, db: db, collection: "v", before: 0, total: 20_000, report: &report, context: context)
                // The same import without the shim completes (resuming when it committed batches).
                if r.status != 0 {
                    let again = try runChild(vdb, args, workDir: work)
                    let count = (try? Database(path: db).collection(named: "v").count()) ?? -1
                    if again.status != 0 || count != 20_000 { report.fail("\(context): the retry left \(count) rows: \(again.stderr)") }
                }
                report.count("runs")
            }
        }
        report.notes = report.notes.filter { $0.key.contains("#1 ") || $0.key.contains("#3 ") }  // a sample of messages
        report.seconds = Date().timeIntervalSince(start)
        return report
    }
}
