// `vdb index build|drop|train`: approximate indexes on an existing collection; shared index options.
import ArgumentParser
import Foundation
import VDBCore

/// Build parameters of an approximate index, shared by `vdb create --index` and `vdb index build`.
struct IndexParameterOptions: ParsableArguments {
    @Option(name: .customLong("M"), parsing: .unconditional, help: "HNSW: links per node on the upper levels (>= 2; level 0 has 2M; default 16).")
    var m: Int?

    @Option(name: .customLong("ef-construction"), parsing: .unconditional, help: "HNSW: candidate list size while building (>= 1; default 200).")
    var efConstruction: Int?

    @Option(parsing: .unconditional, help: "IVF_FLAT / IVF_SQ8: number of inverted lists (>= 1; default 1024; about sqrt(n) to 4*sqrt(n)).")
    var nlist: Int?

    @Option(parsing: .unconditional, help: "Seed for k-means and HNSW levels (same seed, same index).")
    var seed: UInt64?

    func validate() throws {
        try requireAtLeast(2, m, "--M")
        try requireAtLeast(1, efConstruction, "--ef-construction")
        try requireAtLeast(1, nlist, "--nlist")
    }

    /// `base` with the options given on the command line applied.
    func apply(to base: IndexParameters) -> IndexParameters {
        var p = base
        if let m { p.m = m }
        if let efConstruction { p.efConstruction = efConstruction }
        if let nlist { p.nlist = nlist }
        if let seed { p.seed = seed }
        return p
    }
}

/// Short description of an index and its build parameters.
func describeIndex(_ kind: IndexKind, _ p: IndexParameters) -> String {
    switch kind {
    case .flat: return "flat (exact)"
    case .hnsw: return "hnsw (M=\(p.m), ef_construction=\(p.efConstruction))"
    case .ivfFlat, .ivfSQ8: return "\(kind) (nlist=\(p.nlist))"
    }
}


/// `vdb index build NAME [--type KIND] [params]`, `vdb index drop NAME`
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build, rebuild or drop the approximate index of a collection.",
        discussion: """
            Index types: hnsw (graph; search with --ef), ivf_flat (inverted lists of raw \
            vectors; search with --nprobe), ivf_sq8 (inverted lists of 8-bit codes, 4x \
            smaller; search with --nprobe, optionally --rerank), flat (exact search, no index).

            Examples:
              vdb index build docs --type hnsw --M 16 --ef-construction 200
              vdb index build docs --type ivf_flat --nlist 256 --threads 2 --json
              vdb index build docs        (rebuild: the collection's index and parameters)
              vdb index drop docs
              vdb index train docs --type ivf_flat --nlist 256 --out docs.ivfq  (shared centroids)
              vdb index build docs --centroids docs.ivfq
            """,
        subcommands: [IndexBuildCommand.self, IndexDropCommand.self, IndexTrainCommand.self])
}

/// `vdb index build NAME [--type KIND] [params]`
struct IndexBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build (or rebuild) an index over the vectors stored in a collection.",
        discussion: """
            --threads N: build workers, recorded with the index (as `vdb create --build-threads` \
            does) for later builds and batch inserts; 1 gives a deterministic HNSW. Not given: the \
            collection's recorded value (0 = all cores unless set).
            --centroids FILE (from `vdb index train`): fill IVF lists with these centroids (and \
            IVF_SQ8 ranges) instead of training, so shard indexes merge by concatenation \
            (`vdb merge`); the type and nlist come from the file.
            --json prints {"collection","count","index","index_memory_bytes","parameters","seconds"}.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Option(help: ArgumentHelp("Index type (default: the collection's own).", valueName: "type"))
    var type: IndexKind?

    @OptionGroup var params: IndexParameterOptions

    @OptionGroup var threads: ThreadsOption

    @Option(help: ArgumentHelp("IVF: build with the centroids of this file (vdb index train) instead of training.", valueName: "FILE"))
    var centroids: String?

    @Flag(help: "No progress bar.")
    var quiet = false

    @Flag(help: "Print what was built as one JSON object.")
    var json = false

    func run() throws {
        let db = try global.open()
        let collection = try db.collection(named: name)
        let info = try collection.info()
        let kind: IndexKind
        var p: IndexParameters
        if let centroids {
            (kind, p) = try sharedCentroids(centroids, collection, info)
        } else {
            kind = type ?? info.index
            if kind == .flat && type == nil {
                throw CLIError("collection '\(name)' has no index type: pass --type hnsw, ivf_flat or ivf_sq8")
            }
            // Start from the collection's parameters when rebuilding the same kind.
            p = params.apply(to: kind == info.index ? info.parameters : IndexParameters())
        }
        if let t = threads.threads { p.buildThreads = t }
        let start = Date()
        if kind == .flat {
            try collection.dropIndex()
        } else {
            if info.count == 0 && p.quantizer == nil {  // an empty shard may get the shared centroids
                throw CLIError("collection '\(name)' is empty: import vectors before building an index")
            }
            if kind != .hnsw && p.quantizer == nil && p.nlist > info.count {
                throw VDBError.nlistExceedsVectors(nlist: p.nlist, vectors: info.count)
            }
            let bar = ProgressBar(label: "building \(kind)", enabled: stderrIsTTY && !quiet)
            defer { bar.finish() }
            try collection.buildIndex(kind: kind, parameters: p) { f in
                bar.update(fraction: f, status: "\(info.count) vectors")
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let after = try collection.info()
        if json {
            try JSONLineWriter.print(IndexBuildJSON(collection: name, index: kind, parameters: IndexParametersJSON(p), count: after.count,
                                                    seconds: seconds, indexMemoryBytes: after.indexMemoryBytes))
        } else if kind == .flat {
            print("dropped the index of '\(name)': searches are exact")
        } else {
            let from = centroids.map { " from the centroids in \($0)" } ?? ""
            print("built \(describeIndex(kind, p))\(from) over \(after.count) vectors of '\(name)' in "
                  + "\(String(format: "%.2f", seconds)) s (index memory \(formatBytes(after.indexMemoryBytes)))")
        }
    }
}

/// `vdb index drop NAME`
struct IndexDropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Drop the index of a collection (searches become exact).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    func run() throws {
        let db = try global.open()
        try db.collection(named: name).dropIndex()
        print("dropped the index of '\(name)': searches are exact")
    }
}
