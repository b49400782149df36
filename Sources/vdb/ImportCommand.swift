import ArgumentParser
import Foundation
import VDBCore

/// `vdb import NAME FILE [--start-id N]`
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import vectors from a .fvecs, .bvecs, .npy, .jsonl, .parquet or .arrow(s) file.",
        discussion: """
            Formats: .fvecs/.bvecs (TEXMEX), .npy (2-D float32 or float16, C order), .jsonl \
            (one {"id": 7, "vector": [...], "metadata": {...}} per line; "id" and "metadata" \
            optional). .parquet/.arrow/.arrows (a table with a "vector" column, as vdb export \
            writes; Parquet needs python3 with pyarrow) also bring ids and metadata, and create \
            the collection from the table's metric and dimension when it does not exist.
            Ids come from the file (JSONL), else from --start-id upward, else continue after \
            the largest id in the collection. Each batch of --batch-size vectors is one \
            transaction: an interrupted import keeps every batch committed before the interruption.

            Examples:
              vdb import docs base.fvecs
              vdb import docs more.npy --start-id 100000
              vdb import photos items.jsonl
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Argument(help: "Vector file (.fvecs, .bvecs, .npy, .jsonl, .parquet, .pq, .arrow, .arrows, .ipc).")
    var file: String

    @Option(parsing: .unconditional, help: "Id of the first vector (ids increase by one per vector).")
    var startID: UInt64?

    @Option(parsing: .unconditional, help: "Vectors per transaction (>= 1).")
    var batchSize: Int = 10_000

    func validate() throws {
        try requireAtLeast(1, batchSize, "--batch-size")
    }

    func run() throws {
        let db = try global.open()
        if ImportTable.handles(file) { return try ImportTable.run(db, name: name, file: file, batchSize: batchSize) }
        let collection = try db.collection(named: name)
        let reader = try VectorFiles.open(file)
        guard reader.dimension == collection.dimension else {
            throw CLIError("\(file) holds \(reader.dimension)-d vectors but collection '\(name)' has dimension \(collection.dimension)")
        }
        let bar = ProgressBar(label: "importing")
        defer { bar.finish() }  // also on errors, so the error line starts clean
        let start = Date()
        var done = 0
        var nextID = startID
        while let chunk = try reader.next(maxCount: batchSize) {
            var ids = chunk.ids
            if ids == nil, let first = nextID {
                guard first <= UInt64.max - UInt64(chunk.count) else { throw CLIError("--start-id: ids would overflow") }
                ids = (0..<chunk.count).map { first + UInt64($0) }
                nextID = first + UInt64(chunk.count)
            }
            do {
                try collection.insert(contiguous: chunk.vectors, ids: ids, metadata: chunk.metadata)
            } catch let e as VDBError {
                // Name the position in the file: vector indexes in errors are batch-relative.
                throw CLIError("\(e.description) (batch starting at vector \(done) of \(file); \(done) vectors imported before it)")
            }
            done += chunk.count
            let rate = Double(done) / max(1e-9, Date().timeIntervalSince(start))
            let total = reader.count.map { "/\($0)" } ?? ""
            bar.update(fraction: reader.progress, status: "\(done)\(total) vectors, \(Int(rate)) vectors/s")
        }
        bar.finish()
        let secs = Date().timeIntervalSince(start)
        let rate = Double(done) / max(1e-9, secs)
        print("imported \(done) vectors into '\(name)' in \(String(format: "%.2f", secs)) s (\(Int(rate.rounded())) vectors/s); \(try collection.count()) in total")
    }
}
