// `vdb index build|drop`: approximate indexes on an existing collection; shared index options.
import ArgumentParser
import Foundation
import VDBCore

/// Build parameters of an approximate index, shared by `vdb create --index` and `vdb index build`.
struct IndexParameterOptions: ParsableArguments {
    @Option(name: .customLong("M"), help: "HNSW: links per node on the upper levels (level 0 has 2M; default 16).")
    var m: Int?

    @Option(name: .customLong("ef-construction"), help: "HNSW: candidate list size while building (default 200).")
    var efConstruction: Int?

    @Option(help: "IVF_FLAT / IVF_SQ8: number of inverted lists (default 1024; about sqrt(n) to 4*sqrt(n)).")
    var nlist: Int?

    @Option(help: "Seed for k-means and HNSW levels (same seed, same index).")
    var seed: UInt64?

    @Option(name: .customLong("build-threads"), help: "Threads for the build (0 = all cores; 1 = deterministic HNSW).")
    var buildThreads: Int?

    /// `base` with the options given on the command line applied.
    func apply(to base: IndexParameters) -> IndexParameters {
        var p = base
        if let m { p.m = m }
        if let efConstruction { p.efConstruction = efConstruction }
        if let nlist { p.nlist = nlist }
        if let seed { p.seed = seed }
        if let buildThreads { p.buildThreads = buildThreads }
        return p
    }

    /// Checks the options that apply to `kind` before any work is done.
    func validate(for kind: IndexKind, _ p: IndexParameters) throws {
        switch kind {
        case .hnsw:
            if p.m < 2 { throw CLIError("--M \(p.m) is too small: HNSW needs M >= 2 (16 is typical)") }
            if p.efConstruction < 1 { throw CLIError("--ef-construction must be at least 1 (200 is typical)") }
        case .ivfFlat, .ivfSQ8:
            if p.nlist < 1 { throw CLIError("--nlist must be at least 1") }
        case .flat:
            break
        }
        if p.buildThreads < 0 { throw CLIError("--build-threads must be 0 (all cores) or more") }
    }
}

/// Parses an index kind name.
func parseIndexKind(_ text: String) throws -> IndexKind {
    let t = text.lowercased().replacingOccurrences(of: "-", with: "_")
    if let k = IndexKind(rawValue: t) { return k }
    if t == "ivfflat" { return .ivfFlat }
    if t == "ivfsq8" { return .ivfSQ8 }
    throw CLIError("unknown index type '\(text)': use flat, hnsw, ivf_flat or ivf_sq8")
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
            Index types: hnsw (graph; search with --ef), ivf_flat (inverted lists of raw vectors;
            search with --nprobe), ivf_sq8 (inverted lists of 8-bit codes, 4x smaller; search with
            --nprobe, optionally --rerank), flat (exact search, no index).

            Examples:
              vdb index build docs --type hnsw --M 16 --ef-construction 200
              vdb index build docs --type ivf_flat --nlist 256
              vdb index build docs            (rebuild with the collection's index and parameters)
              vdb index drop docs
            """,
        subcommands: [IndexBuildCommand.self, IndexDropCommand.self, IndexTrainCommand.self])
}

/// `vdb index build NAME [--type KIND] [params]`
struct IndexBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build (or rebuild) an index over the vectors stored in a collection.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Option(help: "Index type: hnsw, ivf_flat, ivf_sq8 or flat (default: the collection's own).")
    var type: String?

    @OptionGroup var params: IndexParameterOptions

    @Option(help: ArgumentHelp("IVF: build with the centroids of this file (vdb index train) instead of training.", valueName: "FILE"))
    var centroids: String?

    @Flag(help: "No progress bar.")
    var quiet = false

    func run() throws {
        try cli {
            let db = try global.open()
            let collection = try db.collection(named: name)
            let info = try collection.info()
            if let centroids { return try buildFromCentroids(centroids, collection, info) }
            let kind = try type.map(parseIndexKind) ?? info.index
            if kind == .flat && type == nil {
                throw CLIError("collection '\(name)' has no index type: pass --type hnsw, ivf_flat or ivf_sq8")
            }
            // Start from the collection's parameters when rebuilding the same kind.
            let p = params.apply(to: kind == info.index ? info.parameters : IndexParameters())
            try params.validate(for: kind, p)
            if kind == .flat {
                try collection.dropIndex()
                print("dropped the index of '\(name)': searches are exact")
                return
            }
            if info.count == 0 {
                throw CLIError("collection '\(name)' is empty: import vectors before building an index")
            }
            if kind != .hnsw && p.nlist > info.count {
                throw CLIError(IndexError.nlistExceedsVectors(nlist: p.nlist, vectors: info.count).description)
            }
            let bar = SendableProgress(ProgressBar(label: "building \(kind)", enabled: stderrIsTTY && !quiet))
            let start = Date()
            try collection.buildIndex(kind: kind, parameters: p) { f in
                bar.update(f, status: "\(info.count) vectors")
            }
            bar.finish()
            let after = try collection.info()
            print("built \(describeIndex(kind, p)) over \(after.count) vectors of '\(name)' in "
                  + "\(String(format: "%.2f", Date().timeIntervalSince(start))) s (index memory \(formatBytes(after.indexMemoryBytes)))")
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
        try cli {
            let db = try global.open()
            try db.collection(named: name).dropIndex()
            print("dropped the index of '\(name)': searches are exact")
        }
    }
}

/// A progress bar updated from the build's worker threads.
final class SendableProgress: @unchecked Sendable {
    // `bar` is only touched under `lock`.
    private let bar: ProgressBar
    private let lock = NSLock()
    init(_ bar: ProgressBar) { self.bar = bar }
    func update(_ fraction: Double, status: String) { lock.lock(); bar.update(fraction: fraction, status: status); lock.unlock() }
    func finish() { lock.lock(); bar.finish(); lock.unlock() }
}
