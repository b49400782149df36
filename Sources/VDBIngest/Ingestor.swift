import Crypto
import Foundation
import VDBCLIP
import VDBCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings of one ingest run.
public struct IngestOptions: Sendable {
    /// Target collection; default: the name of the first folder (characters a collection name
    /// cannot hold become `-`).
    public var collection: String?
    /// Images embedded and committed per transaction (with their captions).
    public var batchSize: Int
    /// Decode/preprocess worker threads (default: all cores).
    public var threads: Int
    /// Index to carry when the collection is created (`flat` = exact search); built after the run.
    public var index: IndexKind
    /// Build parameters for `index`.
    public var indexParameters: IndexParameters
    /// Also walk hidden files and folders (names starting with ".").
    public var includeHidden: Bool
    /// Remove entries whose file, under the given folders, is gone or no longer an image.
    public var prune: Bool
    /// The most memory one image may take: files larger than this are failed without being read,
    /// and decoding one is capped at it (``CLIPImageLoader/Options/maxDecodeBytes``). Together
    /// with `threads` and `batchSize` this bounds the run's memory (Docs/reliability.md).
    public var maxImageBytes: Int
    /// When set, only files and folders whose real path (every symbolic link resolved) lies inside
    /// one of these folders are read; whatever a link leads outside is reported and skipped.
    /// `vdb serve` sets it to its `--allow-ingest-from` folders.
    public var confinement: [String]?
    /// Which of the files found to take: all (the default), one shard, a file list (Sharding.swift).
    public var selection = IngestSelection()

    public init(collection: String? = nil, batchSize: Int = 32, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                index: IndexKind = .flat, indexParameters: IndexParameters = IndexParameters(),
                includeHidden: Bool = false, prune: Bool = false,
                maxImageBytes: Int = CLIPImageLoader.Options.defaultMaxDecodeBytes) {
        self.collection = collection
        self.batchSize = batchSize
        self.threads = threads
        self.index = index
        self.indexParameters = indexParameters
        self.includeHidden = includeHidden
        self.prune = prune
        self.maxImageBytes = maxImageBytes
    }
}

/// A file that was not stored, and why.
public struct IngestIssue: Sendable, Codable, Hashable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Counters of an ingest run, reported while it runs (see ``Ingestor/run(paths:options:progress:)``).
public struct IngestProgress: Sendable, Hashable {
    /// Candidate files found by the first walk (for the ETA); caption files are not counted.
    public var total: Int
    /// Files dealt with so far (stored, unchanged, skipped or failed).
    public var processed: Int
    /// Images embedded and stored (new or changed).
    public var ingested: Int
    /// Images already stored with the same content.
    public var unchanged: Int
    /// Files that are not JPEG/PNG images.
    public var skipped: Int
    /// Images (or paths) that could not be read or decoded.
    public var failed: Int
    /// Seconds since the run started.
    public var elapsed: Double
    /// Files per second so far.
    public var filesPerSecond: Double { elapsed > 0 ? Double(processed) / elapsed : 0 }
    /// Estimated seconds left, or nil before there is a rate.
    public var eta: Double? {
        let rate = filesPerSecond
        return rate > 0 ? Double(max(0, total - processed)) / rate : nil
    }
}

/// What an ingest run did.
public struct IngestSummary: Sendable, Codable, Hashable {
    /// The image collection (captions go to `<collection>.captions`).
    public var collection: String
    /// Fingerprint of the model that embedded the images.
    public var model: String
    /// New images stored.
    public var added: Int
    /// Changed images re-embedded.
    public var updated: Int
    /// Images whose content was already stored.
    public var unchanged: Int
    /// Caption embeddings written (new or changed captions).
    public var captions: Int
    /// Entries removed by `--prune`.
    public var pruned: Int
    /// Files that are not images, with the reason.
    public var skipped: [IngestIssue]
    /// Images and paths that could not be used, with the reason.
    public var failed: [IngestIssue]
    /// Images in the collection after the run.
    public var count: Int
    /// Wall-clock seconds.
    public var seconds: Double
    /// Images embedded per second (added + updated over the run's time).
    public var imagesPerSecond: Double
    /// Set when an index was requested but could not be built (e.g. too few images); search stays exact.
    public var indexNote: String?

    /// Images stored by this run (added + updated).
    public var ingested: Int { added + updated }
}

/// Errors that stop an ingest (or a photo search) as a whole. Problems with single files never
/// throw: they are reported in ``IngestSummary``.
public enum IngestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// None of the given paths exists or can be read.
    case noUsablePaths([IngestIssue])
    /// The collection was made with another model.
    case modelMismatch(collection: String, stored: String, given: String, storedPath: String?)
    /// The collection exists but was not made by ingest (wrong metric or dimension for this model).
    case incompatibleCollection(String, reason: String)
    /// No captions were ingested into this collection.
    case noCaptions(String)
    /// No CLIP model was given and the bundled demo model (at this path relative to the source tree) is absent.
    case noModel(bundled: String)
    /// The run stopped on a database failure (`reason`, e.g. a full disk). The batch being written
    /// was rolled back; the `committed` images (and captions) of earlier batches of this run stay
    /// stored, and running the same ingest again continues without embedding them again.
    case stopped(reason: String, committed: Int)

    public var description: String {
        switch self {
        case let .noUsablePaths(issues):
            return "nothing to ingest: " + issues.map(\.description).joined(separator: "; ")
        case let .modelMismatch(c, stored, given, path):
            return "collection '\(c)' was embedded with another model (fingerprint \(stored.prefix(12))"
                + (path.map { ", from \($0)" } ?? "") + "); the given model is \(given.prefix(12)). "
                + "Use the same --model, or ingest into a new --collection."
        case let .incompatibleCollection(c, reason):
            return "collection '\(c)' cannot hold these image embeddings: \(reason)"
        case let .noCaptions(c):
            return "collection '\(c)' has no captions (add NAME.txt sidecars or captions.csv / captions.jsonl and ingest again)"
        case let .noModel(bundled):
            return "no model: pass --model DIR (a Hugging Face CLIP checkpoint directory) or set \(ModelLocation.environmentVariable); "
                + "the bundled demo model (\(bundled)) was not found"
        case let .stopped(reason, committed):
            return "ingest stopped: \(reason); \(committed) image(s) of this run were committed by earlier batches and stay stored; "
                + "run the same ingest again to continue (stored images are not embedded again)"
        }
    }
}

/// Property names ingest records on its collections.
enum IngestProperty {
    static let fingerprint = "clip.model.fingerprint"
    static let modelPath = "clip.model.path"
    static let role = "clip.role"
}

/// Turns folders of photos into a searchable collection with a CLIP model.
///
/// ```swift
/// let db = try Database(path: "photos.vdb")
/// let model = try CLIPModel.load(directory: URL(fileURLWithPath: "Models/demo-clip"))
/// let summary = try Ingestor(database: db, model: model).run(paths: ["Samples/photos"])
/// let hits = try db.collection(named: summary.collection).search(text: "a red circle", model: model, k: 5)
/// ```
///
/// Each image becomes one cosine vector whose id is derived from its absolute path, with
/// metadata `path`, `width`, `height`, `bytes`, `mtime`, `sha256`, `format`, `caption` (when
/// one exists) and what ``PhotoMetadata/metadata(of:mtime:)`` reads from EXIF (`taken_at`,
/// `camera`, `lens`, GPS...); ``PhotoMetadata/fields`` are declared as indexed fields. Captions are embedded with the text tower into `<collection>.captions`, same ids.
///
/// The run is resumable and incremental: every batch commits in one transaction (``Database/write(_:)``),
/// images and their captions together, ids are stable per path, and a file whose content hash is already stored is not embedded again, so a
/// run killed at any point (SIGKILL included) and started again continues where it stopped with
/// no duplicate and no lost row. Decoding and preprocessing run on worker threads and overlap
/// the model; queues between the stages are bounded, so memory does not grow with the folder.
public final class Ingestor: Sendable {
    /// The database the collections live in.
    public let database: Database
    /// The model that embeds images and captions.
    public let model: CLIPModel

    public init(database: Database, model: CLIPModel) {
        self.database = database
        self.model = model
    }

    /// The collection name derived from a folder path.
    public static func defaultCollectionName(for path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        var base = (trimmed as NSString).lastPathComponent
        if base.isEmpty || base == "." || base == "/" {
            base = (FileManager.default.currentDirectoryPath as NSString).lastPathComponent
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
        let cleaned = String(base.map { allowed.contains($0) ? $0 : "-" }.prefix(120))
        return cleaned.isEmpty ? "photos" : cleaned
    }

    /// The name of the caption collection that goes with an image collection.
    public static func captionCollectionName(for collection: String) -> String { collection + ".captions" }

    /// Ingests the images under `paths` (folders, walked recursively, or single files).
    ///
    /// - Parameter progress: called on the calling thread after every batch and at the end.
    /// - Returns: the summary; files that failed are listed there, they do not throw.
    /// - Throws: ``IngestError/noUsablePaths(_:)`` when no path can be used, ``IngestError/modelMismatch(collection:stored:given:storedPath:)``,
    ///   and storage errors (a full disk, ...): batches committed before the error stay stored.
    public func run(paths: [String], options: IngestOptions = IngestOptions(),
                    progress: ((IngestProgress) -> Void)? = nil) throws -> IngestSummary {
        let start = Date()
        var rootProblems: [IngestIssue] = []
        var roots: [String] = []
        var firstUsable: String?
        for p in paths {
            var st = stat()
            if stat(p, &st) != 0 {
                rootProblems.append(IngestIssue(path: p, reason: errnoText(errno)))
            } else if let real = realpath(p, nil) {
                roots.append(String(cString: real))
                free(real)
                if firstUsable == nil { firstUsable = p }
            }
        }
        guard !roots.isEmpty, let firstUsable else { throw IngestError.noUsablePaths(rootProblems) }
        let name = options.collection ?? Ingestor.defaultCollectionName(for: firstUsable)
        let images = try openCollection(name, role: "images", options: options)

        let selection = options.selection
        // First walk: count candidates for the progress bar (cheap: directory listings only).
        var total = 0
        var counter = FolderWalker(roots: roots, includeHidden: options.includeHidden, confinedTo: options.confinement)
        while let listing = counter.next() {
            let captionFiles = FolderCaptions(listing: listing).captionFiles
            total += listing.files.filter { !captionFiles.contains(($0.path as NSString).lastPathComponent) && selection.admits($0.path) }.count
        }
        total += counter.problems.filter { selection.admits($0.path) }.count  // reported as failures, so they count as processed too

        var state = RunState(total: total, start: start)
        state.failed = rootProblems
        let batch = max(1, options.batchSize)
        let jobs = Channel<FileJob>(capacity: batch * 2)
        let results = Channel<Outcome>(capacity: batch * 2)
        let group = DispatchGroup()
        let stop = AtomicFlag()
        let includeHidden = options.includeHidden
        let confinement = options.confinement
        let walkRoots = roots

        group.enter()
        DispatchQueue.global().async {
            defer { jobs.close(); group.leave() }
            var walker = FolderWalker(roots: walkRoots, includeHidden: includeHidden, confinedTo: confinement)
            while let listing = walker.next(), !stop.isSet {
                let captions = FolderCaptions(listing: listing)
                for p in captions.problems where selection.admits(p.path) { results.send(.note(IngestIssue(path: p.path, reason: p.reason))) }
                for file in listing.files {
                    let fileName = (file.path as NSString).lastPathComponent
                    if captions.captionFiles.contains(fileName) || !selection.admits(file.path) { continue }
                    let caption = captions.caption(for: fileName)?.text
                    if !jobs.send(FileJob(file: file, caption: caption)) { return }
                }
            }
            for p in walker.problems where selection.admits(p.path) { results.send(.failed(IngestIssue(path: p.path, reason: p.reason))) }
        }
        let captionName = Ingestor.captionCollectionName(for: name)
        let context = WorkerContext(images: images, preprocess: model.preprocess, maxImageBytes: max(1, options.maxImageBytes))
        for _ in 0..<max(1, options.threads) {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                while let job = jobs.receive() {
                    if !results.send(context.process(job)) { return }
                }
            }
        }
        DispatchQueue.global().async {
            group.wait()
            results.close()
        }

        var pending: [Ready] = []
        var captionOnly: [CaptionUpdate] = []
        do {
            while let outcome = results.receive() {
                switch outcome {
                case .unchanged: state.unchanged += 1; state.processed += 1
                case let .skipped(issue): state.skipped.append(issue); state.processed += 1
                case let .failed(issue): state.failed.append(issue); state.processed += 1
                case let .note(issue): state.notes.append(issue)
                case let .caption(update):
                    state.unchanged += 1; state.processed += 1
                    captionOnly.append(update)
                case let .ready(item):
                    pending.append(item)
                }
                if pending.count >= batch || captionOnly.count >= batch * 4 {
                    try flush(&pending, &captionOnly, images: images, name: name, state: &state)
                    progress?(state.progress)
                }
            }
            try flush(&pending, &captionOnly, images: images, name: name, state: &state)
        } catch {
            stop.set()
            jobs.cancel()
            results.cancel()
            group.wait()
            if let e = error as? VDBError { throw IngestError.stopped(reason: e.description, committed: state.added + state.updated) }
            throw error
        }
        group.wait()

        if options.prune { state.pruned = try prune(images: images, captionName: captionName, roots: roots) }
        var indexNote: String?
        if options.index != .flat { indexNote = try buildIndexIfNeeded(images, options: options) }
        progress?(state.progress)
        let seconds = Date().timeIntervalSince(start)
        let stored = state.added + state.updated
        return IngestSummary(collection: name, model: model.fingerprint, added: state.added, updated: state.updated,
                             unchanged: state.unchanged, captions: state.captions, pruned: state.pruned,
                             skipped: state.skipped, failed: state.failed + state.notes, count: try images.count(),
                             seconds: seconds, imagesPerSecond: seconds > 0 ? Double(stored) / seconds : 0,
                             indexNote: indexNote)
    }

    // MARK: - collections

    /// Opens or creates the collection `name` for this model, checking the model fingerprint.
    func openCollection(_ name: String, role: String, options: IngestOptions) throws -> Collection {
        let c: Collection
        if let existing = try? database.collection(named: name) {
            c = existing
            guard c.metric == .cosine, c.dimension == model.embeddingDimension else {
                throw IngestError.incompatibleCollection(name, reason: "it is \(c.metric) with dimension \(c.dimension); "
                    + "this model needs cosine with dimension \(model.embeddingDimension)")
            }
            try checkModel(c)
        } else {
            c = try database.createCollection(name: name, dimension: model.embeddingDimension, metric: .cosine,
                                              index: role == "images" ? options.index : .flat,
                                              parameters: options.indexParameters,
                                              fields: role == "images" ? PhotoMetadata.fields : [])
        }
        if role == "images", !Set(PhotoMetadata.fields).isSubset(of: Set(try c.fields())) {
            // A collection made before photo fields existed. Values that do not fit (written by
            // something else) leave the fields undeclared: filters then work by scan.
            try? c.addFields(PhotoMetadata.fields)
        }
        if try c.property(IngestProperty.fingerprint) == nil {
            try c.setProperties([IngestProperty.fingerprint: model.fingerprint, IngestProperty.modelPath: model.directory.path,
                                 IngestProperty.role: role])
        }
        return c
    }

    /// Throws ``IngestError/modelMismatch(collection:stored:given:storedPath:)`` unless `c` was made by this model.
    func checkModel(_ c: Collection) throws {
        if let stored = try c.property(IngestProperty.fingerprint), stored != model.fingerprint {
            throw IngestError.modelMismatch(collection: c.name, stored: stored, given: model.fingerprint,
                                            storedPath: try c.property(IngestProperty.modelPath))
        }
    }

    /// Embeds a batch and commits it in one transaction: the images, their metadata and their
    /// captions (in `<name>.captions`) together, so a run killed at any point leaves each image
    /// with its caption, or neither.
    private func flush(_ pending: inout [Ready], _ captionOnly: inout [CaptionUpdate], images: Collection,
                       name: String, state: inout RunState) throws {
        if pending.isEmpty && captionOnly.isEmpty { return }
        // The model runs before the transaction: the write lock is held only for the writes.
        let embeddings = pending.isEmpty ? [] : try model.embed(pixels: pending.map(\.pixels))
        var captionUpdates = captionOnly
        var captionDeletes: [UInt64] = []
        for item in pending {
            if let caption = item.caption {
                captionUpdates.append(CaptionUpdate(id: item.id, path: item.path, caption: caption, imageMetadata: nil))
            } else if item.hadCaption {
                captionDeletes.append(item.id)
            }
        }
        // Metadata-only changes: a caption edited (or removed) next to an unchanged image.
        let metaOnly = captionUpdates.filter { $0.imageMetadata != nil }
        captionDeletes += metaOnly.filter { $0.caption == nil }.map(\.id)
        let withText = captionUpdates.filter { $0.caption != nil }
        let captionVectors = withText.isEmpty ? [] : try model.embed(texts: withText.map { $0.caption ?? "" })
        let captionName = Ingestor.captionCollectionName(for: name)
        let captions = withText.isEmpty ? try? database.collection(named: captionName)
                                        : try openCollection(captionName, role: "captions", options: IngestOptions())
        let batch = pending
        try database.write { txn in
            let img = try txn.collection(images)
            if !batch.isEmpty {
                try img.upsert(embeddings, ids: batch.map(\.id), metadata: batch.map { Optional($0.metadata) })
            }
            var vectors: [[Float]] = [], ids: [UInt64] = [], metas: [Metadata?] = []
            for u in metaOnly {
                guard let rec = try img.get(id: u.id), var m = u.imageMetadata else { continue }
                if let c = u.caption { m["caption"] = .string(c) } else { m["caption"] = nil }
                vectors.append(rec.vector); ids.append(u.id); metas.append(m)
            }
            if !ids.isEmpty { try img.upsert(vectors, ids: ids, metadata: metas) }
            if let captions {
                let cap = try txn.collection(captions)
                if !withText.isEmpty {
                    try cap.upsert(captionVectors, ids: withText.map(\.id), metadata: withText.map {
                        ["path": .string($0.path), "caption": .string($0.caption ?? "")]
                    })
                }
                try cap.delete(ids: captionDeletes)
            }
        }
        for item in pending {
            if item.isUpdate { state.updated += 1 } else { state.added += 1 }
            state.processed += 1
        }
        state.captions += withText.count
        pending.removeAll(keepingCapacity: true)
        captionOnly.removeAll(keepingCapacity: true)
    }

    private func prune(images: Collection, captionName: String, roots: [String]) throws -> Int {
        var gone: [UInt64] = []
        try images.forEachMetadata { id, m in
            guard let path = m["path"]?.stringValue else { return true }
            let underRoot = roots.contains { path == $0 || path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
            if underRoot {
                var st = stat()
                if stat(path, &st) != 0 || (st.st_mode & S_IFMT) != S_IFREG { gone.append(id) }
                else if let head = FileHandle(forReadingAtPath: path)?.readData(ofLength: 16), ImageProbe.format(of: head) == nil {
                    gone.append(id)
                }
            }
            return true
        }
        if gone.isEmpty { return 0 }
        let captions = try? database.collection(named: captionName)
        return try database.write { txn in
            if let captions { try txn.collection(captions).delete(ids: gone) }
            return try txn.collection(images).delete(ids: gone)
        }
    }

    private func buildIndexIfNeeded(_ images: Collection, options: IngestOptions) throws -> String? {
        let info = try images.info()
        if info.index == .flat || info.indexBuilt { return nil }
        let count = info.count
        var params = info.parameters
        if info.index == .ivfFlat || info.index == .ivfSQ8 {
            // Keep at least ~39 images per list (Faiss's lower bound for useful k-means).
            let maxLists = count / 39
            guard maxLists >= 1 else {
                return "\(info.index) needs at least 39 images; searches stay exact until then"
            }
            params.nlist = min(params.nlist, maxLists)
        }
        guard count >= 2 else { return "\(info.index) is built once the collection has 2 images; searches stay exact" }
        do {
            try images.buildIndex(kind: info.index, parameters: params, progress: nil)
        } catch {
            return "index not built: \(error)"
        }
        return nil
    }
}

// MARK: - pipeline internals

struct FileJob: Sendable {
    var file: FoundFile
    var caption: String?
}

struct Ready: Sendable {
    var id: UInt64
    var path: String
    var pixels: PixelTensor
    var metadata: Metadata
    var caption: String?
    var hadCaption: Bool
    var isUpdate: Bool
}

struct CaptionUpdate: Sendable {
    var id: UInt64
    var path: String
    var caption: String?
    /// Set when the image itself is unchanged and only its stored metadata must follow the caption.
    var imageMetadata: Metadata?
}

enum Outcome: Sendable {
    case unchanged
    case skipped(IngestIssue)
    case failed(IngestIssue)
    case note(IngestIssue)
    case caption(CaptionUpdate)
    case ready(Ready)
}

struct RunState {
    var total: Int
    var start: Date
    var processed = 0
    var added = 0
    var updated = 0
    var unchanged = 0
    var captions = 0
    var pruned = 0
    var skipped: [IngestIssue] = []
    var failed: [IngestIssue] = []
    var notes: [IngestIssue] = []

    init(total: Int, start: Date) { self.total = total; self.start = start }

    var progress: IngestProgress {
        IngestProgress(total: total, processed: processed, ingested: added + updated, unchanged: unchanged,
                       skipped: skipped.count, failed: failed.count, elapsed: Date().timeIntervalSince(start))
    }
}

/// The per-file work done on worker threads: read, identify, hash, compare, decode, preprocess.
struct WorkerContext: Sendable {
    let images: Collection
    let preprocess: CLIPPreprocessConfig
    let maxImageBytes: Int

    func process(_ job: FileJob) -> Outcome {
        let path = job.file.path
        var st = stat()
        if stat(path, &st) == 0, Int(st.st_size) > maxImageBytes {
            return .failed(IngestIssue(path: path, reason: "file of \(st.st_size >> 20) MiB is larger than the \(maxImageBytes >> 20) MiB limit for one image"))
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            var st = stat()
            let reason = stat(path, &st) == 0 && access(path, R_OK) != 0 ? "permission denied" : "cannot read the file"
            return .failed(IngestIssue(path: path, reason: reason))
        }
        if data.isEmpty { return .skipped(IngestIssue(path: path, reason: "empty file (0 bytes)")) }
        guard let format = ImageProbe.format(of: data) else {
            return .skipped(IngestIssue(path: path, reason: "not a JPEG or PNG image (\(describeContent(data)))"))
        }
        let hash = sha256Hex(data)
        do {
            let (id, existing) = try identify(path)
            if let existing, existing.metadata["sha256"]?.stringValue == hash {
                let stored = existing.metadata["caption"]?.stringValue
                // Stored before ingest read EXIF: add the photo metadata without embedding again.
                let lacksPhotoMetadata = existing.metadata["taken_at_source"] == nil
                if stored != job.caption || lacksPhotoMetadata {
                    var m = existing.metadata
                    if lacksPhotoMetadata { m.merge(PhotoMetadata.metadata(of: data, mtime: job.file.mtime)) { _, new in new } }
                    return .caption(CaptionUpdate(id: id, path: path, caption: job.caption, imageMetadata: m))
                }
                return .unchanged
            }
            let result = try CLIPImageLoader.preprocess(data: data, config: preprocess,
                                                        options: CLIPImageLoader.Options(maxDecodeBytes: maxImageBytes), source: path)
            var m: Metadata = [
                "path": .string(path), "width": .int(Int64(result.width)), "height": .int(Int64(result.height)),
                "bytes": .int(Int64(data.count)), "mtime": .double(job.file.mtime), "sha256": .string(hash),
                "format": .string(format.rawValue),
            ]
            m.merge(PhotoMetadata.metadata(of: data, mtime: job.file.mtime)) { old, _ in old }
            if let c = job.caption { m["caption"] = .string(c) }
            return .ready(Ready(id: id, path: path, pixels: result.pixels, metadata: m, caption: job.caption,
                                hadCaption: existing?.metadata["caption"] != nil, isUpdate: existing != nil))
        } catch let error as CLIPError {
            // The summary names the path already; keep only what is wrong with the file.
            var reason = String(describing: error)
            if reason.hasPrefix(path + ": ") { reason.removeFirst(path.count + 2) }
            return .failed(IngestIssue(path: path, reason: reason))
        } catch {
            return .failed(IngestIssue(path: path, reason: "\(error)"))
        }
    }

    /// The stable id of `path` and what is stored under it. The id is the first 63 bits of the
    /// path's SHA-256; on the (astronomically rare) collision with another path the next free
    /// id is probed.
    func identify(_ path: String) throws -> (UInt64, VectorRecord?) {
        var id = Ingestor.pathID(path)
        for _ in 0..<64 {
            guard let rec = try images.get(id: id) else { return (id, nil) }
            if rec.metadata["path"]?.stringValue == path { return (id, rec) }
            id = (id &+ 1) & 0x7fff_ffff_ffff_ffff
        }
        throw IngestError.incompatibleCollection(images.name, reason: "no free id near the one for \(path)")
    }
}

extension Ingestor {
    /// The stable id ingest gives the image at absolute `path`.
    public static func pathID(_ path: String) -> UInt64 {
        let digest = SHA256.hash(data: Array(path.utf8))
        var v: UInt64 = 0
        for b in digest.prefix(8) { v = v << 8 | UInt64(b) }
        return v & 0x7fff_ffff_ffff_ffff
    }
}

/// Lower-case hex SHA-256 of `data`: an image's `sha256` metadata, by which unchanged files are
/// recognised.
func sha256Hex(_ data: some DataProtocol) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

/// A short description of what a non-image file seems to hold, for skip reasons.
func describeContent(_ data: Data) -> String {
    let head = data.prefix(512)
    if head.starts(with: [0x47, 0x49, 0x46, 0x38]) { return "GIF data" }
    if head.starts(with: [0x52, 0x49, 0x46, 0x46]) { return "RIFF/WebP data" }
    if head.starts(with: [0x25, 0x50, 0x44, 0x46]) { return "PDF data" }
    if head.count >= 12, head.dropFirst(4).starts(with: Array("ftyp".utf8)) { return "HEIF/MP4 data" }
    let printable = head.filter { ($0 >= 0x20 && $0 < 0x7f) || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 || $0 >= 0x80 }
    if printable.count == head.count { return "looks like text" }
    let hex = head.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
    return "content starts with \(hex)"
}

/// What ``Ingestor/events(paths:options:)`` yields.
public enum IngestEvent: Sendable {
    /// Counters after a committed batch.
    case progress(IngestProgress)
    /// The run finished; always the last event of a successful run.
    case finished(IngestSummary)
}

extension Ingestor {
    /// Runs the ingest on a background thread and reports it as an `AsyncSequence`:
    /// `.progress` after every committed batch, then `.finished` with the summary.
    ///
    /// ```swift
    /// for try await event in ingestor.events(paths: ["photos/"]) {
    ///     if case .progress(let p) = event { print(p.processed, "/", p.total) }
    /// }
    /// ```
    public func events(paths: [String], options: IngestOptions = IngestOptions()) -> AsyncThrowingStream<IngestEvent, Error> {
        AsyncThrowingStream { continuation in
            let thread = Thread {
                do {
                    let summary = try self.run(paths: paths, options: options) { continuation.yield(.progress($0)) }
                    continuation.yield(.finished(summary))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.start()
        }
    }
}
