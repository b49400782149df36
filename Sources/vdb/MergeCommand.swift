// `vdb merge`: shard databases combined into one (Database+Merge.swift in VDBCore).
import ArgumentParser
import Foundation
import VDBCore

/// `vdb merge OUT SHARD...`
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine shard databases into new collections of the database OUT.",
        discussion: """
            Every collection of the shards (or those named with --collection, each with its
            NAME.captions companion) becomes one collection of OUT: vectors, metadata and
            properties, an id held by several shards stored once (from the first shard given).
            Shards must agree on dimension, metric and model; a mismatch is refused, naming the shard.
            Indexes: IVF lists are concatenated when every shard was built from the same centroids
            (vdb index train / vdb index build --centroids), otherwise IVF is retrained; HNSW is
            rebuilt. The shards are only read. Keep OUT and the shards on local disks: LMDB must
            not live on a network file system.

            Examples:
              vdb merge merged/ shard-0/ shard-1/ shard-2/ shard-3/
              vdb merge merged/ shards/* --collection photos --json
            """)

    @Argument(help: "Output database directory (created if needed).")
    var output: String

    @Argument(help: "Shard database directories, in priority order.")
    var shards: [String]

    @Option(name: .customLong("collection"), help: "Merge only this collection (repeatable; default: all).")
    var collections: [String] = []

    @Option(parsing: .unconditional, help: "Vectors per write transaction (>= 1).")
    var batchSize: Int = 4096

    @Flag(help: "No progress bar.")
    var quiet = false

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    func validate() throws {
        if shards.isEmpty { throw ValidationError("give at least one shard database") }
        try requireAtLeast(1, batchSize, "--batch-size")
    }

    func run() throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        let shardDBs = try shards.map { path -> Database in
            guard fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue,
                  fm.fileExists(atPath: (path as NSString).appendingPathComponent("data.mdb")) else {
                throw CLIError("shard \(path) is not a vdb database (no data.mdb)")
            }
            return try Database(path: path)
        }
        let out = try Database(path: (output as NSString).expandingTildeInPath)
        let bar = ProgressBar(label: "merging", enabled: stderrIsTTY && !quiet)
        defer { bar.finish() }  // also on errors, so the error line starts clean
        let options = MergeOptions(collections: collections.isEmpty ? nil : collections, batchSize: batchSize)
        let summary = try out.merge(shards: shardDBs, options: options) { p in
            let what = p.phase == .copying ? "\(p.vectors) vectors" : "building index"
            bar.update(fraction: p.fraction, status: "\(p.collection): \(what)")
        }
        bar.finish()
        if json { return try JSONLineWriter.print(summary) }
        for c in summary.collections {
            var line = "\(c.name): \(c.count) vectors from \(c.shards.count) shards"
            if c.duplicates > 0 { line += ", \(c.duplicates) duplicate ids kept once" }
            switch c.indexMerge {
            case .none: break
            case .concatenated: line += "; \(c.index) lists concatenated (shared centroids)"
            case .retrained: line += "; \(c.index) retrained (the shards' centroids differ)"
            case .rebuilt: line += "; \(c.index) rebuilt"
            }
            print(line)
        }
        print(String(format: "merged into %@ in %.2f s", summary.output, summary.seconds))
    }
}
