import Foundation
import VDBCLIP
import VDBCore

/// Which CLIP checkpoint to use, and why: the one model-selection policy of vdb (the `vdb`
/// commands `ingest`, `search --text/--image`, `embed` and `classify` all call ``resolve(explicit:environment:collection:bundled:)``).
///
/// In order of precedence:
/// 1. a directory the caller names explicitly (`--model DIR`);
/// 2. `$VDB_MODEL`;
/// 3. for a search of a collection made by ``Ingestor``, the model that embedded it (recorded in
///    the collection), if that directory still exists;
/// 4. the demo model bundled with vdb (`Models/demo-clip` in the source tree).
///
/// ```swift
/// let location = try ModelLocation.resolve(explicit: nil, collection: photos)
/// let model = try location.load(threads: 2)
/// let hits = try photos.search(text: "a red circle", model: model)
/// ```
public struct ModelLocation: Sendable, Hashable {
    /// Where a model directory came from.
    public enum Source: String, Sendable, Hashable {
        /// Named by the caller (`--model`).
        case explicit
        /// `$VDB_MODEL`.
        case environment
        /// Recorded in the collection by the ingest that filled it.
        case collection
        /// The demo model bundled with vdb.
        case bundled
    }

    /// The checkpoint directory.
    public var directory: URL
    /// Why this directory was chosen.
    public var source: Source

    public init(directory: URL, source: Source) {
        self.directory = directory
        self.source = source
    }

    /// The environment variable that names a model directory.
    public static let environmentVariable = "VDB_MODEL"
    /// Where the bundled demo model lives, relative to the root of the vdb source tree.
    public static let bundledRelativePath = "Models/demo-clip"

    /// Chooses the model directory by the policy above.
    ///
    /// - Parameters:
    ///   - explicit: a directory the user named (`~` is expanded); nil or empty if none.
    ///   - environment: the process environment (for `$VDB_MODEL`).
    ///   - collection: the collection about to be searched, if any.
    ///   - bundled: the bundled demo model, if present (default: ``bundledDirectory()``).
    /// - Throws: ``IngestError/noModel(bundled:)`` when nothing applies; storage errors reading
    ///   the collection's record.
    public static func resolve(explicit: String?,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               collection: VDBCore.Collection? = nil,
                               bundled: URL? = bundledDirectory()) throws -> ModelLocation {
        if let explicit, !explicit.isEmpty { return ModelLocation(directory: expanded(explicit), source: .explicit) }
        if let env = environment[environmentVariable], !env.isEmpty { return ModelLocation(directory: expanded(env), source: .environment) }
        if let recorded = try collection?.modelDirectory, FileManager.default.fileExists(atPath: recorded) {
            return ModelLocation(directory: URL(fileURLWithPath: recorded), source: .collection)
        }
        if let bundled { return ModelLocation(directory: bundled, source: .bundled) }
        throw IngestError.noModel(bundled: bundledRelativePath)
    }

    /// Loads the checkpoint (see ``CLIPModel/load(directory:threads:precision:)``).
    public func load(threads: Int? = nil, precision: CLIPPrecision = .float32) throws -> CLIPModel {
        try CLIPModel.load(directory: directory, threads: threads, precision: precision)
    }

    /// The bundled demo model, if it can be found: under the source tree vdb was built from, or
    /// above the running executable (e.g. `.build/release/vdb` inside a checkout).
    public static func bundledDirectory() -> URL? {
        // Sources/VDBIngest/ModelLocation.swift -> the root of the source tree.
        var roots = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()]
        if let executable = ProcessInfo.processInfo.arguments.first {
            var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<5 {
                roots.append(dir)
                dir = dir.deletingLastPathComponent()
            }
        }
        return roots.lazy.map { $0.appendingPathComponent(bundledRelativePath) }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) }
    }

    private static func expanded(_ path: String) -> URL {
        URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
    }
}
