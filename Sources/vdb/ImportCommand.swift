import ArgumentParser
import Foundation
import VDBCore

/// `vdb import NAME FILE [--start-id N] [--resume [--batch-size N]] [--max-transaction-mib M]`
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import vectors from a .fvecs, .bvecs, .npy, .jsonl, .parquet or .arrow(s) file (all or nothing).",
        discussion: """
            Formats: .fvecs/.bvecs (TEXMEX), .npy (2-D float32 or float16, C order), .jsonl \
            (one {"id": 7, "vector": [...], "metadata": {...}} per line; "id" and "metadata" \
            optional). .parquet/.arrow/.arrows (a table with a "vector" column, as vdb export \
            writes; Parquet needs python3 with pyarrow) also bring ids and metadata, and create \
            the collection from the table's metric and dimension when it does not exist.
            Ids come from the file (JSONL), else from --start-id upward, else continue after \
            the largest id in the collection.

            Every row is checked first (dimension, NaN/infinity, zero vectors for cosine, ids \
            reserved, repeated or already stored, metadata); a bad row stops the import before \
            anything is written, and the message names the row. Then one transaction stores \
            every row: on any failure (a full disk, a kill) the collection is exactly as it \
            was. That transaction is held in memory until it commits, so a file bigger than \
            --max-transaction-mib is refused; import it with --resume.

            --resume commits every --batch-size rows in a transaction of its own, which also \
            records how far the import got; after any interruption, `kill -9` included, the \
            same command continues after the last committed batch. Every error message says \
            which rows are committed.

            Examples:
              vdb import docs base.fvecs
              vdb import docs more.npy --start-id 100000
              vdb import photos items.jsonl
              vdb import docs huge.fvecs --resume --batch-size 50000
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Argument(help: "Vector file (.fvecs, .bvecs, .npy, .jsonl, .parquet, .pq, .arrow, .arrows, .ipc).")
    var file: String

    @Option(parsing: .unconditional, help: "Id of the first vector (ids increase by one per vector).")
    var startID: UInt64?

    @Flag(help: "Commit in batches and continue an interrupted import of the same file.")
    var resume = false

    @Option(parsing: .unconditional, help: "With --resume: rows per transaction (>= 1).")
    var batchSize: Int?

    @Option(parsing: .unconditional, help: "Without --resume: the largest import accepted, in MiB of new data (>= 1).")
    var maxTransactionMib: Int = 1024

    func validate() throws {
        try requireAtLeast(1, batchSize, "--batch-size")
        try requireAtLeast(1, maxTransactionMib, "--max-transaction-mib")
        if batchSize != nil && !resume { throw ValidationError("--batch-size goes with --resume (without it, one transaction stores the whole file)") }
        if maxTransactionMib > Int.max >> 21 { throw ValidationError("--max-transaction-mib is too large (got \(maxTransactionMib))") }
    }

    func run() throws {
        let db = try global.open()
        let options = ImportOptions(mode: resume ? .resumable(batchSize: batchSize ?? 10_000) : .atomic,
                                    startID: startID, maxTransactionBytes: maxTransactionMib << 20)
        // A table may create its collection (from its header); a failed import drops it again.
        let (collection, created) = ImportTable.handles(file) ? try ImportTable.collection(db, name: name, file: file)
                                                              : (try db.collection(named: name), false)
        let bar = ProgressBar(label: "importing")
        defer { bar.finish() }  // also on errors, so the error line starts clean
        let start = Date()
        let summary: ImportSummary
        do {
            summary = try collection.importFile(file, options: options) { p in
                let phase = p.phase == .checking ? "checking" : "storing"
                bar.update(fraction: p.fraction, status: "\(phase) \(p.rows) vectors")
            }
        } catch let VDBError.importStopped(path, location, problem, committed) {
            bar.finish()
            if created && committed == 0 { try? db.dropCollection(named: name) }
            throw CLIError(Self.stoppedMessage(path: path, location: location, problem: problem, committed: committed,
                                               command: resumeCommand))
        }
        bar.finish()
        let secs = Date().timeIntervalSince(start)
        let rate = Double(summary.rowsStored) / max(1e-9, secs)
        let resumed = summary.firstRow > 0 ? " (rows \(summary.firstRow)..<\(summary.totalRows); rows before them were imported earlier)" : ""
        print("imported \(summary.rowsStored) vectors into '\(name)'\(resumed) in \(summary.transactions) transaction(s), "
              + "\(String(format: "%.2f", secs)) s (\(Int(rate.rounded())) vectors/s); \(try collection.count()) in total")
    }

    /// The command that continues this import in resumable mode.
    var resumeCommand: String {
        var parts = ["vdb", "import", name, file, "--resume"]
        if let batchSize { parts += ["--batch-size", String(batchSize)] }
        if let startID { parts += ["--start-id", String(startID)] }
        if let db = global.db { parts += ["--db", db] }
        return parts.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// One line: the problem, where, and exactly what is committed and how to go on.
    static func stoppedMessage(path: String, location: String?, problem: String, committed: Int, command: String) -> String {
        let head = "\(path): \(location.map { "\($0): " } ?? "")\(problem)"
        if committed == 0 { return "\(head); nothing was imported (the collection is unchanged)" }
        return "\(head); rows 0..<\(committed) of the file are committed, nothing after them; to continue from row \(committed): \(command)"
    }
}
