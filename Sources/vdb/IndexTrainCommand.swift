// `vdb index train`: shared IVF centroids for shard indexes that merge without retraining.
import ArgumentParser
import Foundation
import VDBCore

/// `vdb index train NAME --type ivf_flat|ivf_sq8 --nlist N [--sample M] --out FILE [--from DB]...`
struct IndexTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train IVF centroids on a sample and save them, to build shard indexes that merge without retraining.",
        discussion: """
            Samples --sample vectors uniformly (seeded) from the collection NAME in --db, or in \
            every --from database (shards), trains the IVF quantizer (k-means centroids, and for \
            ivf_sq8 the residual ranges) and writes it to --out. Then \
            `vdb index build NAME --centroids FILE` in each shard fills its lists with these \
            centroids, and `vdb merge` concatenates the lists.

            Examples:
              vdb index train photos --type ivf_flat --nlist 1024 --out photos.ivfq --from shard-0 --from shard-1
              vdb --db shard-0 index build photos --centroids photos.ivfq
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Option(help: ArgumentHelp("ivf_flat or ivf_sq8.", valueName: "type"))
    var type: IndexKind = .ivfFlat

    @Option(parsing: .unconditional, help: "Number of inverted lists (>= 1).")
    var nlist: Int

    @Option(parsing: .unconditional, help: "Vectors to train on (>= 1; default: 256 per list).")
    var sample: Int?

    @Option(parsing: .unconditional, help: "Seed for sampling and k-means.")
    var seed: UInt64 = 42

    @Option(help: ArgumentHelp("Centroids file to write.", valueName: "FILE"))
    var out: String

    @Option(help: ArgumentHelp("Database to sample from (repeatable; default: --db).", valueName: "DIR"))
    var from: [String] = []

    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        try requireAtLeast(1, nlist, "--nlist")
        try requireAtLeast(1, sample, "--sample")
        guard type == .ivfFlat || type == .ivfSQ8 else { throw ValidationError("--type must be ivf_flat or ivf_sq8 (got \(type))") }
    }

    func run() throws {
        let dbs = from.isEmpty ? [try global.open()] : try from.map { try Database(path: $0) }
        let collections = try dbs.map { db -> Collection in
            guard try db.collectionNames().contains(name) else { throw CLIError("no collection named '\(name)' in \(db.path)") }
            return try db.collection(named: name)
        }
        let bar = ProgressBar(label: "training \(type)", enabled: stderrIsTTY && !quiet)
        defer { bar.finish() }
        let start = Date()
        let q = try IVFQuantizer.train(collections: collections, kind: type, nlist: nlist, sample: sample, seed: seed) { f in
            bar.update(fraction: f, status: "")
        }
        bar.finish()
        try q.write(to: out)
        print("trained \(type) centroids (nlist=\(q.nlist)) on \(q.trainedOn) vectors from \(dbs.count) database(s) in "
              + String(format: "%.2f s", Date().timeIntervalSince(start)) + "; wrote \(out)")
    }
}

extension IndexBuildCommand {
    /// `vdb index build NAME --centroids FILE`: the kind and parameters (with the quantizer) of an
    /// IVF build that fills the lists with shared centroids, after checking that they fit the
    /// collection (type, dimension, metric, model).
    func sharedCentroids(_ path: String, _ collection: Collection, _ info: CollectionInfo) throws -> (IndexKind, IndexParameters) {
        let q = try IVFQuantizer(contentsOf: path)
        if let type, type != q.kind {
            throw CLIError("\(path) holds \(q.kind) centroids, not \(type): drop --type or train again")
        }
        guard q.metric == collection.metric, q.dimension == collection.dimension else {
            throw CLIError("\(path) was trained on \(q.dimension)-d \(q.metric) vectors; '\(name)' is \(collection.dimension)-d \(collection.metric)")
        }
        let props = try collection.properties()
        if let fp = q.fingerprint, let mine = props.first(where: { $0.key.hasSuffix("fingerprint") })?.value, mine != fp {
            throw CLIError("\(path) was trained on vectors of model \(fp.prefix(12)); '\(name)' holds vectors of model \(mine.prefix(12))")
        }
        var p = params.apply(to: q.kind == info.index ? info.parameters : IndexParameters())
        p.nlist = q.nlist
        p.quantizer = q
        return (q.kind, p)
    }
}
