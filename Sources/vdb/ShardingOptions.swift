// `vdb ingest --shard I/N` and `--files LIST`: deterministic slices of an ingest (VDBIngest/Sharding.swift).
import ArgumentParser
import Foundation
import VDBCore
import VDBIngest

/// The options that restrict an ingest to some of its input files.
struct ShardingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Ingest only shard I of N (0-based): the files whose path id falls in the I-th of N equal ranges. "
                               + "A rerun takes the same files with the same ids; the N shards hold every file once.", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Ingest only the files listed in LIST, one path per line ('-' reads standard input); "
                               + "without folder arguments, their folders are walked.", valueName: "LIST"))
    var files: String?

    func validate() throws {
        if let shard {
            do { _ = try ShardSpec(parsing: shard) } catch let e as VDBError { throw ValidationError("--shard: \(e.description)") }
        }
    }

    /// Sets `options.selection` (and the default collection name for a file list); returns the
    /// roots to walk and the listed files that do not exist (reported as failures).
    func apply(paths: [String], to options: inout IngestOptions) throws -> (roots: [String], missing: [IngestIssue]) {
        if let shard { options.selection.shard = try ShardSpec(parsing: shard) }
        guard let files else { return (paths, []) }
        let list = try IngestFileList(contentsOf: files)
        options.selection.files = list.files
        if paths.isEmpty {
            if options.collection == nil { options.collection = Ingestor.defaultCollectionName(for: list.commonFolder) }
            return (list.roots, list.missing)
        }
        return (paths, list.missing)
    }
}
