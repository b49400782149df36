import Foundation
import Synchronization
import VDBCLIP
import VDBCore

/// What looking up the image ingest recorded for a point found.
public enum RecordedImageLookup<Value: Sendable>: Sendable {
    case found(Value)
    /// No point with this id in the collection.
    case noSuchPoint
    /// The point has no image recorded by ingest (no `path` and `sha256` metadata).
    case notRecorded
    /// The recorded file cannot be served now: missing, unreadable, not an image, or changed since
    /// it was ingested (`reason` says which).
    case unavailable(path: String, reason: String)
}

/// The original image file ingest recorded for a point.
public struct RecordedImage: Sendable {
    public var id: UInt64
    /// The path stored in the point's metadata when it was ingested.
    public var path: String
    public var format: ImageFormat
    /// The file's bytes, whose SHA-256 equals the one ingest recorded.
    public var data: Data
}

/// Serves the photos that ``Ingestor`` recorded: originals, and JPEG thumbnails kept in a
/// bounded in-memory cache.
///
/// Only the file named by a point's `path` metadata is ever read (nothing a caller passes reaches
/// the file system), and it is served only while its SHA-256 equals the `sha256` ingest stored
/// with it: a point whose metadata was edited to name some other file cannot expose that file.
/// Thumbnails are cached by content hash and size, so a cached thumbnail needs no file access.
public final class RecordedImages: Sendable {
    /// Largest original file read (bytes).
    public static let maxFileBytes = 256 << 20

    /// Bytes of thumbnails the cache keeps (least recently used go first).
    public let thumbnailCacheBytes: Int
    private let cache: Mutex<ThumbnailLRU>

    public init(thumbnailCacheBytes: Int = 64 << 20) {
        self.thumbnailCacheBytes = max(0, thumbnailCacheBytes)
        cache = Mutex(ThumbnailLRU())
    }

    /// The original image recorded for point `id` of `collection`.
    /// - Throws: storage errors (e.g. ``VDBError/collectionNotFound(_:)``).
    public func original(in collection: Collection, id: UInt64) throws -> RecordedImageLookup<RecordedImage> {
        guard let record = try collection.get(id: id) else { return .noSuchPoint }
        guard let path = record.metadata["path"]?.stringValue, let sha = record.metadata["sha256"]?.stringValue else {
            return .notRecorded
        }
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            guard attributes[.type] as? FileAttributeType == .typeRegular else {
                return .unavailable(path: path, reason: "not a regular file")
            }
            if let size = attributes[.size] as? Int, size > RecordedImages.maxFileBytes {
                return .unavailable(path: path, reason: "larger than \(RecordedImages.maxFileBytes) bytes")
            }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            return .unavailable(path: path, reason: "the file cannot be read (moved or deleted since it was ingested?)")
        }
        guard sha256Hex(data) == sha else {
            return .unavailable(path: path, reason: "the file changed since it was ingested (run the ingest again)")
        }
        guard let format = ImageProbe.format(of: data) else {
            return .unavailable(path: path, reason: "not a JPEG or PNG image")
        }
        return .found(RecordedImage(id: id, path: path, format: format, data: data))
    }

    /// A JPEG thumbnail (longer side `maxSide`, EXIF orientation applied) of the image recorded
    /// for point `id`, from the cache when it holds one for the same content and size.
    /// - Throws: storage errors; `CLIPError` when the recorded file no longer decodes or `maxSide`
    ///   is outside 1...``ImageThumbnail/maxSideLimit``.
    public func thumbnail(in collection: Collection, id: UInt64, maxSide: Int) throws -> RecordedImageLookup<[UInt8]> {
        guard let record = try collection.get(id: id) else { return .noSuchPoint }
        guard record.metadata["path"]?.stringValue != nil, let sha = record.metadata["sha256"]?.stringValue else {
            return .notRecorded
        }
        let key = "\(sha)/\(maxSide)"
        if let hit = cache.withLock({ $0.get(key) }) { return .found(hit) }
        switch try original(in: collection, id: id) {
        case let .found(image):
            let jpeg = try ImageThumbnail.jpeg(from: image.data, maxSide: maxSide, source: image.path)
            let budget = thumbnailCacheBytes
            cache.withLock { $0.put(key, jpeg, budget: budget) }
            return .found(jpeg)
        case .noSuchPoint: return .noSuchPoint
        case .notRecorded: return .notRecorded
        case let .unavailable(path, reason): return .unavailable(path: path, reason: reason)
        }
    }

    /// Thumbnails and bytes currently cached.
    public var cachedThumbnails: (count: Int, bytes: Int) {
        cache.withLock { ($0.entries.count, $0.bytes) }
    }
}

/// Least-recently-used map of thumbnail bytes with a byte budget.
struct ThumbnailLRU: Sendable {
    var entries: [String: (data: [UInt8], tick: UInt64)] = [:]
    var bytes = 0
    var tick: UInt64 = 0

    mutating func get(_ key: String) -> [UInt8]? {
        guard let e = entries[key] else { return nil }
        tick += 1
        entries[key] = (e.data, tick)
        return e.data
    }

    mutating func put(_ key: String, _ data: [UInt8], budget: Int) {
        guard data.count <= budget else { return }
        if let old = entries[key] { bytes -= old.data.count }
        tick += 1
        entries[key] = (data, tick)
        bytes += data.count
        while bytes > budget, let oldest = entries.min(by: { $0.value.tick < $1.value.tick }) {
            bytes -= oldest.value.data.count
            entries[oldest.key] = nil
        }
    }
}

extension Collection {
    /// Whether ingest made this collection for images (its points carry `path` and `sha256`
    /// metadata that ``RecordedImages`` can serve); false for caption collections and others.
    public var holdsRecordedImages: Bool {
        get throws { try property(IngestProperty.role) == "images" }
    }
}
