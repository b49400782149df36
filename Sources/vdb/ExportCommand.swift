// `vdb export`: a collection as Parquet, Arrow IPC, JSONL or NumPy (Exchange/ in VDBCore).
import ArgumentParser
import Foundation
import VDBCore

extension ExportFormat: ExpressibleByArgument {}
extension ExportIDType: ExpressibleByArgument {}

/// `vdb export NAME OUT [--format parquet|arrow|jsonl|npy]`
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a collection to a Parquet, Arrow, JSONL or NumPy file.",
        discussion: """
            parquet  id, vector (fixed-size list of float32), one typed column per metadata key; the
                     collection's metric, dimension and properties in the schema metadata. vdb writes
                     an Arrow IPC stream and pyarrow turns it into Parquet: needs python3 with pyarrow
                     ($VDB_PYTHON picks the Python). Loads into Milvus, LanceDB, Spark, pandas;
                     `vdb import` reads it back exactly.
            arrow    the same table as an Arrow IPC stream (.arrows), no Python needed.
            jsonl    {"id": ..., "vector": [...], "metadata": {...}} per line (what vdb import reads).
            npy      the vectors as a float32 array, the ids in NAME.ids.npy (uint64), same order.
            The format is --format, else the extension of OUT. One consistent snapshot is written in
            batches (bounded memory); the file appears only when complete.

            Examples:
              vdb export photos photos.parquet
              vdb export photos out.parquet --id-type int64      (Milvus primary keys are int64)
              vdb export docs docs.npy
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Argument(help: "Output file.")
    var output: String

    @Option(help: "parquet, arrow, jsonl or npy (default: from the extension of the output file).")
    var format: ExportFormat?

    @Option(parsing: .unconditional, help: "Vectors per batch (>= 1).")
    var batchSize: Int = 4096

    @Option(help: "Type of the id column in parquet/arrow: uint64 (default) or int64.")
    var idType: ExportIDType = .uint64

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    func validate() throws {
        try requireAtLeast(1, batchSize, "--batch-size")
        if format == nil && ExportFormat(path: output) == nil {
            throw ValidationError("cannot tell the format from '\(output)': pass --format parquet, arrow, jsonl or npy")
        }
    }

    func run() throws {
        let collection = try global.open().collection(named: name)
        let fmt = format ?? ExportFormat(path: output) ?? .parquet
        let bar = ProgressBar(label: "exporting")
        defer { bar.finish() }  // also on errors, so the error line starts clean
        let summary = try collection.export(to: output, format: fmt, options: ExportOptions(batchSize: batchSize, idType: idType)) { done, total in
            bar.update(fraction: total > 0 ? Double(done) / Double(total) : 1, status: "\(done)/\(total) vectors")
        }
        bar.finish()
        if json {
            try JSONLineWriter.print(summary)
        } else {
            print("exported \(summary.count) vectors of '\(name)' to \(summary.files.joined(separator: " and ")) (\(fmt)) in "
                  + String(format: "%.2f s (%.0f vectors/s)", summary.seconds, Double(summary.count) / max(1e-9, summary.seconds)))
        }
    }
}
