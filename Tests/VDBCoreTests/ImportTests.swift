import CLMDB
import Foundation
import Synchronization
import Testing
@testable import VDBCore

/// `Collection.importFile`: all or nothing by default; resumable batches that always say what
/// is committed.
@Suite struct ImportTests {
    /// Makes the `n`-th commit from now on (1-based) fail with `code`, as a full disk would.
    static func failCommit(_ db: Database, number n: Int, code: Int32 = ENOSPC) {
        let counter = CommitCounter()
        db.env._beforeCommit.withLock { $0 = { counter.next() == n ? code : 0 } }
    }

    @Test func aFailedCommitLeavesAnAtomicImportUnapplied() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.sub("db"))
        let c = try db.createCollection(name: "c", dimension: 4, metric: .l2)
        let base = randomVectors(1000, 4, seed: 1)
        try writeFvecs(tmp.sub("a.fvecs"), base)
        try c.insert(Array(base[0..<3]))
        Self.failCommit(db, number: 1)
        #expect {
            try c.importFile(tmp.sub("a.fvecs"))
        } throws: { e in
            guard case VDBError.importStopped(_, let at, let problem, let committed) = e else { return false }
            return committed == 0 && at == "rows 0..<1000 (one transaction)" && problem.contains("no space left")
                && e.localizedDescription.contains("nothing was imported (the collection is unchanged)")
        }
        db.env._beforeCommit.withLock { $0 = nil }
        #expect(try c.count() == 3)
        let s = try c.importFile(tmp.sub("a.fvecs"))
        #expect(s == ImportSummary(totalRows: 1000, firstRow: 0, rowsStored: 1000, transactions: 1, firstID: 3))
        #expect(try c.get(id: 3 + 999)?.vector == base[999])
    }

    @Test func aResumableImportSaysWhatIsCommittedAndContinues() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.sub("db"))
        let c = try db.createCollection(name: "c", dimension: 4, metric: .l2)
        let base = randomVectors(1000, 4, seed: 2)
        try writeFvecs(tmp.sub("a.fvecs"), base)
        let resumable = ImportOptions(mode: .resumable(batchSize: 150), startID: 50)
        Self.failCommit(db, number: 3)
        #expect {
            try c.importFile(tmp.sub("a.fvecs"), options: resumable)
        } throws: { e in
            guard case VDBError.importStopped(_, let at, _, let committed) = e else { return false }
            return committed == 300 && at == "rows 300..<450 (one transaction)"
                && e.localizedDescription.contains("rows 0..<300 of the file stay committed")
                && !e.localizedDescription.contains("unchanged")
        }
        db.env._beforeCommit.withLock { $0 = nil }
        #expect(try c.count() == 300)
        // Not atomically: the pending import is reported, with what is committed.
        #expect(throws: VDBError.importStopped(path: tmp.sub("a.fvecs"), location: nil, problem: "an interrupted resumable import of this file is pending",
                                               committedRows: 300)) { try c.importFile(tmp.sub("a.fvecs")) }
        #expect(throws: VDBError.self) { try c.importFile(tmp.sub("a.fvecs"), options: ImportOptions(mode: .resumable(batchSize: 150), startID: 7)) }
        let s = try c.importFile(tmp.sub("a.fvecs"), options: ImportOptions(mode: .resumable(batchSize: 150)))
        #expect(s == ImportSummary(totalRows: 1000, firstRow: 300, rowsStored: 700, transactions: 5, firstID: 50))
        #expect(try c.count() == 1000)
        for i in [0, 299, 300, 999] { #expect(try c.get(id: 50 + UInt64(i))?.vector == base[i]) }
        #expect(try c.properties().isEmpty, "the checkpoint is gone with the last batch")
        #expect(try db.check().ok)
    }

    @Test func aChangedFileIsNotResumed() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.sub("db"))
        let c = try db.createCollection(name: "c", dimension: 4, metric: .l2)
        try writeFvecs(tmp.sub("a.fvecs"), randomVectors(100, 4, seed: 3))
        Self.failCommit(db, number: 2)
        #expect(throws: VDBError.self) { try c.importFile(tmp.sub("a.fvecs"), options: ImportOptions(mode: .resumable(batchSize: 40))) }
        db.env._beforeCommit.withLock { $0 = nil }
        try writeFvecs(tmp.sub("a.fvecs"), randomVectors(101, 4, seed: 3))
        #expect {
            try c.importFile(tmp.sub("a.fvecs"), options: ImportOptions(mode: .resumable(batchSize: 40)))
        } throws: { e in
            guard case VDBError.importStopped(_, _, let problem, let committed) = e else { return false }
            return committed == 40 && problem.contains("the file changed")
        }
        #expect(try c.count() == 40)
    }

    @Test func aTooBigAtomicImportIsRefusedUpFront() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let db = try Database(path: tmp.sub("db"))
        let c = try db.createCollection(name: "c", dimension: 64, metric: .l2)
        try writeFvecs(tmp.sub("a.fvecs"), randomVectors(2000, 64, seed: 4))
        #expect {
            try c.importFile(tmp.sub("a.fvecs"), options: ImportOptions(maxTransactionBytes: 100_000))
        } throws: { e in
            guard case VDBError.importStopped(_, nil, let problem, 0) = e else { return false }
            return problem.contains("more than one transaction may hold")
        }
        #expect(try c.count() == 0)
    }
}

/// Counts commits (the `_beforeCommit` hook runs on the writer's thread, one at a time).
final class CommitCounter: Sendable {
    private let n = Atomic(0)
    func next() -> Int { n.add(1, ordering: .relaxed).newValue }
}
