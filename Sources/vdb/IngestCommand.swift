import ArgumentParser
import Foundation
import VDBCLIP
import VDBCore
import VDBIngest

/// `vdb ingest PATH... [--collection NAME] [--model DIR] ...`
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Embed every JPEG/PNG image under folders (and its caption) into a collection.",
        discussion: """
            Folders are walked recursively; images are recognised by content, not by \
            extension. Captions come from a sidecar NAME.txt next to NAME.jpg, or from \
            captions.csv / captions.jsonl (columns file, caption) in the image's folder; \
            caption embeddings go to the collection NAME.captions with the same ids.

            Ingest is resumable and incremental: run it again after an interruption (even \
            kill -9) and it continues; unchanged files (same content hash) are not embedded \
            again, changed files are re-embedded, and --prune removes entries whose file is \
            gone. A file that cannot be used is reported and skipped; the exit status is 0 \
            when the rest was stored, non-zero only when nothing could be done.

            The model is --model DIR, else $VDB_MODEL, else the bundled demo model (which \
            only knows its synthetic world of shapes and colours).
            --threads: image decoding and CLIP inference. --json prints the summary with the \
            keys added, captions, collection, count, failed, images_per_second, index_note \
            (when set), model, pruned, seconds, skipped, unchanged, updated.

            Examples:
              vdb ingest ~/Pictures/holiday
              vdb ingest photos/ --collection trips --model ~/models/clip --index hnsw
              vdb ingest photos/ --prune --json
              vdb --db shard-2 ingest photos/ --collection photos --shard 2/8   (one of 8 deterministic shards)
              vdb --db part-7 ingest --files part-7.txt --collection photos      (only the listed files)
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Folders (or image files) to ingest (optional with --files).")
    var paths: [String] = []

    @OptionGroup var sharding: ShardingOptions

    @Option(help: "Collection name (default: the first folder's name).")
    var collection: String?

    @Option(help: ArgumentHelp("CLIP checkpoint directory in Hugging Face format.", valueName: "DIR"))
    var model: String?

    @OptionGroup var precision: PrecisionOption

    @Option(name: [.customLong("batch-size"), .customLong("batch")], parsing: .unconditional,
            help: "Images embedded and committed per transaction (>= 1).")
    var batchSize: Int = 32

    @OptionGroup var threads: ThreadsOption

    @Option(help: "Index for a new collection.")
    var index: IndexKind = .flat

    @Flag(help: "Also ingest hidden files and folders.")
    var hidden = false

    @Flag(help: "Remove entries whose file under the given folders is gone.")
    var prune = false

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    @Option(parsing: .unconditional, help: "Memory one image may take, in MiB (file size and decoding; >= 1).")
    var maxImageMib: Int = CLIPImageLoader.Options.defaultMaxDecodeBytes >> 20

    func validate() throws {
        if paths.isEmpty && sharding.files == nil { throw ValidationError("give the folders to ingest (or --files LIST)") }
        try requireAtLeast(1, batchSize, "--batch-size")
        try requireAtLeast(1, maxImageMib, "--max-image-mib")
        if maxImageMib > 1 << 30 { throw ValidationError("--max-image-mib is too large (got \(maxImageMib))") }
    }

    func run() throws {
        let clip = try ModelLocation.resolve(explicit: model).load(threads: threads.count, precision: precision.precision)
        let db = try global.open()
        var options = IngestOptions(collection: collection, batchSize: batchSize, threads: threads.count,
                                    index: index, includeHidden: hidden, prune: prune, maxImageBytes: maxImageMib << 20)
        let (roots, missing) = try sharding.apply(paths: paths, to: &options)
        let bar = ProgressBar(label: "ingest")
        let plain = !stderrIsTTY && !json
        var lastPlain = Date()
        defer { bar.finish() }  // also on errors, so the error line starts clean
        var summary = try Ingestor(database: db, model: clip).run(paths: roots, options: options) { p in
            let eta = p.eta.map { String(format: "ETA %.0fs", $0) } ?? "ETA --"
            let status = "\(p.processed)/\(p.total) files  \(String(format: "%.1f", p.filesPerSecond)) files/s  \(eta)  failed \(p.failed)"
            bar.update(fraction: p.total > 0 ? Double(p.processed) / Double(p.total) : 1, status: status)
            if plain, Date().timeIntervalSince(lastPlain) >= 2 {
                lastPlain = Date()
                printErr("ingest: \(status)")
            }
        }
        bar.finish()
        summary.failed += missing
        if json {
            try JSONLineWriter.print(summary)
        } else {
            print("collection \(summary.collection): \(summary.count) images")
            print("ingested \(summary.ingested) (\(summary.added) new, \(summary.updated) changed), unchanged \(summary.unchanged), "
                + "skipped \(summary.skipped.count), failed \(summary.failed.count)"
                + (summary.captions > 0 ? ", captions \(summary.captions)" : "")
                + (prune ? ", pruned \(summary.pruned)" : ""))
            print(String(format: "%.1f s, %.1f images/s", summary.seconds, summary.imagesPerSecond))
            for s in summary.skipped { print("skipped \(s.path): \(s.reason)") }
            for f in summary.failed { print("failed  \(f.path): \(f.reason)") }
            if let note = summary.indexNote { print("note: \(note)") }
        }
        if summary.ingested == 0 && summary.unchanged == 0 && !summary.failed.isEmpty {
            throw CLIError("nothing was ingested: all \(summary.failed.count) images failed (see above)")
        }
    }
}
