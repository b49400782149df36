// SIGKILL cycles: `vdb import` (atomic and --resume), `vdb ingest`, `vdb index build`,
// `vdb delete` and writes through `vdb serve`, each killed at a random moment (or left to finish).
// After every cycle: `Database.check` passes, every collection's exact search equals brute force,
// the stored vectors are exactly the ones written, and what is stored is a state the operation
// may commit (all or nothing; whole batches; the acknowledged writes at least).
import Crypto
import Foundation
import VDBCore
import VDBIngest
import VDBSupport
#if canImport(Glibc)
import Glibc
#endif

struct KillTorture {
    let vdb: String
    let work: String
    let cycles: Int
    let seed: UInt64
    let model: String
    let photos: String

    static let dimension = 16
    static let chunkRows = 5000
    static let chunks = 24
    static let resumeBatch = 1000
    static let serveBatch = 500

    enum Op: String, CaseIterable {
        case importAtomic = "import", importResume = "import --resume", delete, dropChunk = "delete (whole chunk)",
             indexBuild = "index build", serve = "serve writes", ingest
    }

    /// What is stored of each chunk of "vec", as the harness last verified it.
    enum ChunkState: Equatable {
        case empty
        /// Rows 0..<n (n < chunkRows) by an interrupted `--resume` import (its checkpoint pending).
        case resumePrefix(Int)
        /// Rows 0..<n by interrupted serve writes.
        case servePrefix(Int)
        case complete
        /// Some rows deleted: only a whole-chunk delete takes it on.
        case damaged
    }

    func chunkIDs(_ c: Int) -> Range<UInt64> { UInt64(c * Self.chunkRows)..<UInt64((c + 1) * Self.chunkRows) }
    var dbPath: String { work + "/db" }

    func run() throws -> Report {
        var report = Report("kill")
        let start = Date()
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work + "/chunks", withIntermediateDirectories: true)
        // Chunks: even ones as fvecs (ids from --start-id), odd ones as JSONL with ids and metadata.
        for c in 0..<Self.chunks {
            if c % 2 == 0 {
                try writeFvecs(chunkFile(c), ids: chunkIDs(c), dimension: Self.dimension)
            } else {
                var text = ""
                for (r, id) in chunkIDs(c).enumerated() {
                    let v = vectorFor(id: id, dimension: Self.dimension).map { String($0) }.joined(separator: ",")
                    text += "{\"id\": \(id), \"vector\": [\(v)], \"metadata\": {\"c\": \(c), \"r\": \(r)}}\n"
                }
                try text.write(toFile: chunkFile(c), atomically: true, encoding: .utf8)
            }
        }
        let photoDir = work + "/photos"
        try FileManager.default.copyItem(atPath: photos, toPath: photoDir)
        var photoHashes: [String: Set<String>] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: photoDir) where f.hasSuffix(".jpg") || f.hasSuffix(".png") {
            photoHashes[photoDir + "/" + f] = [try sha256(photoDir + "/" + f)]
        }
        let setup = try runChild(vdb, ["--db", dbPath, "create", "vec", "--dim", "\(Self.dimension)", "--metric", "l2"], workDir: work)
        guard setup.status == 0 else { throw HarnessError("create failed: \(setup.stderr)") }

        var rng = SplitMix64(seed: seed)
        var chunks = [ChunkState](repeating: .empty, count: Self.chunks)
        var typical: [Op: Double] = [:]
        var indexKind = "flat"
        for cycle in 0..<cycles {
            let op = pick(&rng, chunks: chunks)
            // Kill at a uniformly random moment of a typical run (the first run of each kind, and
            // one in ten, is left to finish).
            let killAfter: Double? = typical[op].flatMap { t in rng.next() % 10 == 0 ? nil : Double(rng.next() % 10_000) / 10_000 * t * 1.2 }
            let context = "cycle \(cycle) \(op.rawValue)"
            var outcome: ChildResult
            switch op {
            case .importAtomic, .importResume:
                let resume = op == .importResume
                let candidates = chunks.indices.filter { chunks[$0] == .empty || (resume && isResumePrefix(chunks[$0])) }
                let c = candidates[Int(rng.next() % UInt64(candidates.count))]
                var args = ["--db", dbPath, "import", "vec", chunkFile(c)]
                if c % 2 == 0 { args += ["--start-id", "\(chunkIDs(c).lowerBound)"] }
                if resume { args += ["--resume", "--batch-size", "\(Self.resumeBatch)"] }
                outcome = try runChild(vdb, args, killAfter: killAfter, workDir: work)
                let rows = try storedRows(c)
                let before = chunks[c]
                let allowed: Bool
                if resume {
                    let r0: Int = { if case .resumePrefix(let n) = before { return n }; return 0 }()
                    allowed = rows.isPrefix && rows.count >= r0 && (rows.count % Self.resumeBatch == 0 || rows.count == Self.chunkRows)
                    chunks[c] = rows.count == Self.chunkRows ? .complete : rows.count == 0 ? .empty : .resumePrefix(rows.count)
                } else {
                    allowed = rows.count == 0 || rows.count == Self.chunkRows
                    chunks[c] = rows.count == Self.chunkRows ? .complete : .empty
                }
                if !allowed { report.fail("\(context): chunk \(c) holds \(rows.count) rows (prefix: \(rows.isPrefix)) after \(outcome.killedByUs ? "a kill" : "exit \(outcome.status)")") }
                if outcome.killedByUs == false && outcome.status != 0 { report.fail("\(context): exit \(outcome.status): \(outcome.stderr)") }
                if outcome.killedByUs == false && chunks[c] != .complete { report.fail("\(context): finished but chunk \(c) is \(chunks[c])") }
            case .delete, .dropChunk:
                var ids: [UInt64] = []
                var touched: [Int] = []
                if op == .dropChunk {
                    let candidates = chunks.indices.filter { [.complete, .damaged].contains(chunks[$0]) || isServePrefix(chunks[$0]) }
                    let c = candidates[Int(rng.next() % UInt64(candidates.count))]
                    ids = Array(chunkIDs(c)); touched = [c]
                } else {
                    let candidates = chunks.indices.filter { chunks[$0] == .complete }
                    for _ in 0..<3 {
                        let c = candidates[Int(rng.next() % UInt64(candidates.count))]
                        if !touched.contains(c) { touched.append(c) }
                        for _ in 0..<100 { ids.append(chunkIDs(c).lowerBound + rng.next() % UInt64(Self.chunkRows)) }
                    }
                }
                let beforeRows = try touched.map { try storedRows($0).count }
                let present = try Database(path: dbPath).collection(named: "vec").contains(ids: ids)
                outcome = try runChild(vdb, ["--db", dbPath, "delete", "vec", "--ids", ids.map(String.init).joined(separator: ",")],
                                       killAfter: killAfter, workDir: work)
                let afterPresent = try Database(path: dbPath).collection(named: "vec").contains(ids: ids)
                let gone = zip(present, afterPresent).filter { $0.0 && !$0.1 }.count
                let stillThere = zip(present, afterPresent).filter { $0.0 && $0.1 }.count
                if gone > 0 && stillThere > 0 { report.fail("\(context): a delete of \(ids.count) ids removed \(gone) and kept \(stillThere)") }
                if outcome.killedByUs == false && (outcome.status != 0 || stillThere > 0) { report.fail("\(context): finished, exit \(outcome.status), \(stillThere) ids kept: \(outcome.stderr)") }
                for (i, c) in touched.enumerated() {
                    let rows = try storedRows(c)
                    if rows.count == 0 { chunks[c] = .empty } else if rows.count != beforeRows[i] { chunks[c] = .damaged }
                }
            case .indexBuild:
                let countBefore = try Database(path: dbPath).collection(named: "vec").count()
                var kind = ["hnsw", "ivf_flat", "ivf_sq8", "flat"][Int(rng.next() % 4)]
                if countBefore < 16 && kind.hasPrefix("ivf") { kind = "hnsw" }  // IVF needs nlist vectors
                if countBefore == 0 { kind = "flat" }  // nothing to build over
                var args = ["--db", dbPath, "index", "build", "vec", "--type", kind, "--threads", "1"]
                if kind.hasPrefix("ivf") { args += ["--nlist", "16"] }
                if kind == "hnsw" { args += ["--M", "8", "--ef-construction", "40"] }
                outcome = try runChild(vdb, args, killAfter: killAfter, workDir: work)
                let info = try Database(path: dbPath).collection(named: "vec").info()
                let now = info.indexBuilt ? info.index.rawValue : "flat"
                if now != indexKind && now != kind { report.fail("\(context): index is \(now), neither \(indexKind) nor \(kind)") }
                if info.count != countBefore { report.fail("\(context): an index build changed the count \(countBefore) -> \(info.count)") }
                if outcome.killedByUs == false && (outcome.status != 0 || now != kind) { report.fail("\(context): finished, exit \(outcome.status), index \(now): \(outcome.stderr)") }
                indexKind = now
            case .serve:
                let candidates = chunks.indices.filter { chunks[$0] == .empty || isServePrefix(chunks[$0]) }
                let c = candidates[Int(rng.next() % UInt64(candidates.count))]
                let acked = try serveWrites(chunk: c, killAfter: killAfter, report: &report, context: context)
                outcome = acked.result
                let rows = try storedRows(c)
                let r0: Int = { if case .servePrefix(let n) = chunks[c] { return n }; return 0 }()
                let ok = rows.isPrefix && rows.count >= max(r0, acked.rows) && (rows.count % Self.serveBatch == 0 || rows.count == Self.chunkRows)
                if !ok { report.fail("\(context): chunk \(c) holds \(rows.count) rows (prefix: \(rows.isPrefix)), \(acked.rows) acknowledged, \(r0) before") }
                chunks[c] = rows.count == Self.chunkRows ? .complete : rows.count == 0 ? .empty : .servePrefix(rows.count)
            case .ingest:
                // Change a few photos (trailing bytes after the image data), then ingest.
                let files = photoHashes.keys.sorted()
                for _ in 0..<4 {
                    let f = files[Int(rng.next() % UInt64(files.count))]
                    let h = try FileHandle(forWritingTo: URL(fileURLWithPath: f))
                    try h.seekToEnd()
                    try h.write(contentsOf: Data((0..<8).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
                    try h.close()
                    photoHashes[f, default: []].insert(try sha256(f))
                }
                outcome = try runChild(vdb, ["--db", dbPath, "ingest", photoDir, "--collection", "photos", "--model", model,
                                             "--batch-size", "4", "--threads", "1"], killAfter: killAfter, workDir: work)
                verifyPhotos(photoHashes, complete: outcome.killedByUs == false, report: &report, context: context)
                if outcome.killedByUs == false && outcome.status != 0 { report.fail("\(context): exit \(outcome.status): \(outcome.stderr)") }
            }
            report.count(outcome.killedByUs ? "killed" : "finished")
            report.count("op: \(op.rawValue)")
            if let s = outcome.signal, !outcome.killedByUs { report.fail("\(context): vdb died of signal \(s): \(outcome.stderr)") }
            if outcome.timedOut { report.fail("\(context): vdb hung (killed after the timeout)") }
            if !outcome.killedByUs {
                typical[op] = typical[op].map { 0.7 * $0 + 0.3 * outcome.seconds } ?? outcome.seconds
            }
            verifyVectors(chunks: chunks, report: &report, context: context)
            _ = checkDatabase(dbPath, queries: 2, seed: seed &+ UInt64(cycle), report: &report, context: context)
            report.count("cycles")
            if cycle % 25 == 24 { log("kill: \(cycle + 1)/\(cycles) cycles, \(report.counters["failures"] ?? 0) failures") }
            if report.failures.count > 20 { break }
        }
        report.notes["typical seconds"] = typical.map { "\($0.key.rawValue)=\(String(format: "%.2f", $0.value))" }.sorted().joined(separator: " ")
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    func isResumePrefix(_ s: ChunkState) -> Bool { if case .resumePrefix = s { return true }; return false }
    func isServePrefix(_ s: ChunkState) -> Bool { if case .servePrefix = s { return true }; return false }

    func chunkFile(_ c: Int) -> String { work + "/chunks/\(c)" + (c % 2 == 0 ? ".fvecs" : ".jsonl") }

    /// An operation whose preconditions hold.
    func pick(_ rng: inout SplitMix64, chunks: [ChunkState]) -> Op {
        while true {
            let op = Op.allCases[Int(rng.next() % UInt64(Op.allCases.count))]
            switch op {
            case .importAtomic: if chunks.contains(.empty) { return op }
            case .importResume: if chunks.contains(where: { $0 == .empty || isResumePrefix($0) }) { return op }
            case .delete: if chunks.contains(.complete) { return op }
            case .dropChunk: if chunks.contains(where: { [.complete, .damaged].contains($0) || isServePrefix($0) }) { return op }
            case .serve: if chunks.contains(where: { $0 == .empty || isServePrefix($0) }) { return op }
            case .indexBuild, .ingest: return op
            }
        }
    }

    /// Rows of chunk `c` stored now: how many, and whether they are exactly rows 0..<n.
    func storedRows(_ c: Int) throws -> (count: Int, isPrefix: Bool) {
        let ids = Array(chunkIDs(c))
        let present = try Database(path: dbPath).collection(named: "vec").contains(ids: ids)
        let n = present.filter { $0 }.count
        return (n, present.prefix(n).allSatisfy { $0 })
    }

    /// Every stored vector of "vec" is the one written under its id (with its metadata).
    func verifyVectors(chunks: [ChunkState], report: inout Report, context: String) {
        do {
            let c = try Database(path: dbPath).collection(named: "vec")
            let (ids, vectors) = try c.allVectors()
            let d = Self.dimension
            for (i, id) in ids.enumerated() {
                let want = vectorFor(id: id, dimension: d)
                if Array(vectors[(i * d)..<((i + 1) * d)]) != want {
                    report.fail("\(context): id \(id) holds another vector")
                    return
                }
            }
            if try c.count() != ids.count { report.fail("\(context): count \(try c.count()) but \(ids.count) stored vectors") }
            // Odd chunks carry metadata; spot-check a few.
            for id in ids.prefix(3) where (Int(id) / Self.chunkRows) % 2 == 1 {
                let m = try c.get(id: id)?.metadata
                if m?["r"] != .int(Int64(Int(id) % Self.chunkRows)) { report.fail("\(context): metadata of id \(id) is \(String(describing: m))") }
            }
        } catch {
            report.fail("\(context): reading the vectors: \(error)")
        }
    }

    /// Photos: each stored image has a hash its file had at some point, its id is its path's, and
    /// an image has a caption vector exactly when its metadata has a caption.
    func verifyPhotos(_ hashes: [String: Set<String>], complete: Bool, report: inout Report, context: String) {
        do {
            let db = try Database(path: dbPath)
            guard try db.collectionNames().contains("photos") else { return }
            let photos = try db.collection(named: "photos")
            let captions = try? db.collection(named: "photos.captions")
            var captioned = Set<UInt64>()
            try photos.forEachMetadata { id, m in
                guard let path = m["path"]?.stringValue, let hash = m["sha256"]?.stringValue else {
                    report.fail("\(context): photo \(id) lacks path or sha256"); return false
                }
                if hashes[path]?.contains(hash) != true { report.fail("\(context): photo \(path) has a hash its file never had") }
                if complete, let latest = try? sha256(path), latest != hash { report.fail("\(context): finished ingest left \(path) at an old version") }
                let pathID = Ingestor.pathID(path)
                let atItsID = pathID == id ? true : try photos.contains(id: pathID)
                if !atItsID {
                    report.fail("\(context): photo \(path) is stored under id \(id)")
                }
                if m["caption"] != nil { captioned.insert(id) }
                return true
            }
            if let captions {
                let (ids, _) = try captions.allVectors()
                if Set(ids) != captioned { report.fail("\(context): \(Set(ids).symmetricDifference(captioned).count) images and captions are apart") }
            }
        } catch {
            report.fail("\(context): reading the photos: \(error)")
        }
    }

    /// Starts `vdb serve`, PUTs the rows of chunk `c` in batches, and kills the server after
    /// `killAfter` seconds (or stops it after the last batch). Returns the rows acknowledged.
    func serveWrites(chunk c: Int, killAfter: Double?, report: inout Report, context: String) throws -> (rows: Int, result: ChildResult) {
        let server = try ServerProcess(vdb: vdb, db: dbPath, work: work)
        defer { server.stop() }
        let start = Date()
        var acked = 0
        let ids = Array(chunkIDs(c))
        var killed = false
        for b in stride(from: 0, to: ids.count, by: Self.serveBatch) {
            if let killAfter, Date().timeIntervalSince(start) >= killAfter { server.kill(); killed = true; break }
            let points = ids[b..<min(ids.count, b + Self.serveBatch)].map { id -> String in
                let v = vectorFor(id: id, dimension: Self.dimension).map { String($0) }.joined(separator: ",")
                // Odd chunks carry the same metadata as their JSONL file.
                let meta = c % 2 == 1 ? ", \"metadata\": {\"c\": \(c), \"r\": \(Int(id) % Self.chunkRows)}" : ""
                return "{\"id\": \(id), \"vector\": [\(v)]\(meta)}"
            }
            let body = "{\"points\": [\(points.joined(separator: ","))]}"
            // A kill may land while this request is in flight: it then has no reply.
            if let killAfter {
                let remaining = killAfter - Date().timeIntervalSince(start)
                if remaining < 0.05 { server.killLater(after: max(0, remaining)); killed = true }
            }
            guard let r = try? HTTPClient.request(port: server.port, method: "PUT", path: "/api/v1/collections/vec/points", body: Data(body.utf8)) else { break }
            if r.status == 200 { acked = b + Self.serveBatch } else { report.fail("\(context): PUT points got \(r.status): \(r.bodyText)"); break }
        }
        if killed { server.kill() }
        let result = server.stop()
        return (min(acked, ids.count), result)
    }

    /// Hex SHA-256 of a file, as ingest stores it.
    func sha256(_ path: String) throws -> String {
        SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))).map { String(format: "%02x", $0) }.joined()
    }
}
