import Foundation
import Synchronization
import VDBCLIP
import VDBCore
import VDBIngest

/// Background ingests started by `POST /api/v1/collections/{name}/ingest`.
///
/// One ingest runs at a time (they would take turns on LMDB's single writer anyway); each
/// collection keeps the status of its last run for `GET .../ingest`. Requested paths must resolve,
/// symbolic links included, inside one of the `--allow-ingest-from` folders, and the walk itself
/// is confined to them (``IngestOptions/confinement``), so a link inside an allowed folder cannot
/// lead the ingest elsewhere.
final class IngestJobs: Sendable {
    /// Real paths of the allowed folders (empty: ingest disabled).
    let roots: [String]
    private let jobs = Mutex<[String: IngestStatus]>([:])
    private let running = Atomic<Bool>(false)

    /// - Throws: ``ServerError`` when an allowed folder does not exist or is not a folder.
    init(allowedFolders: [String]) throws {
        roots = try allowedFolders.map { folder in
            var isDir: ObjCBool = false
            guard let real = PathConfinement.realPath(folder),
                  FileManager.default.fileExists(atPath: real, isDirectory: &isDir), isDir.boolValue else {
                throw ServerError(.internalServerError, "bad_config", "--allow-ingest-from \(folder): no such folder")
            }
            return real
        }
    }

    /// Checks every requested path and returns their real paths.
    /// - Throws: 403 when ingest is not enabled or a path is outside the allowed folders, 422 for
    ///   empty or relative paths.
    func validate(_ paths: [String]) throws -> [String] {
        guard !roots.isEmpty else {
            throw ServerError.forbidden("ingest over HTTP is disabled: start the server with --allow-ingest-from DIR")
        }
        guard !paths.isEmpty else { throw ServerError.invalid("'paths' is empty: give at least one folder or file") }
        return try paths.map { path in
            guard path.hasPrefix("/"), !path.contains("\0") else {
                throw ServerError.invalid("ingest path '\(path)' must be absolute (inside one of: \(roots.joined(separator: ", ")))")
            }
            guard PathConfinement.resolves(path, insideAnyOf: roots), let real = PathConfinement.realPath(path) else {
                throw ServerError.forbidden("ingest path '\(path)' does not exist or resolves outside the allowed folders (\(roots.joined(separator: ", ")))")
            }
            return real
        }
    }

    /// Starts an ingest of `paths` (already validated) into `collection` on a background thread.
    /// - Throws: 409 when an ingest is already running.
    func start(collection: String, paths: [String], database: Database, model: CLIPModel) throws -> IngestStatus {
        var options = IngestOptions(collection: collection)
        options.confinement = roots
        return try start(collection: collection, paths: paths) {
            Ingestor(database: database, model: model).events(paths: paths, options: options)
        }
    }

    /// Starts a run whose events `makeEvents` produces (called only when no other run is going).
    func start(collection: String, paths: [String],
               events makeEvents: () -> AsyncThrowingStream<IngestEvent, any Error>) throws -> IngestStatus {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            throw ServerError.conflict("an ingest is already running; wait for it to finish (GET .../ingest shows its progress)")
        }
        let initial = IngestStatus(state: "running", paths: paths, total: 0, processed: 0, ingested: 0, unchanged: 0,
                                   skipped: 0, failed: 0, elapsed_s: 0)
        jobs.withLock { $0[collection] = initial }
        let events = makeEvents()
        Task.detached { [self] in
            do {
                for try await event in events {
                    switch event {
                    case .progress(let p): update(collection) { $0.apply(p) }
                    case .finished(let summary):
                        update(collection) { $0.state = "done"; $0.report = IngestReport(summary) }
                    }
                }
            } catch {
                update(collection) { $0.state = "failed"; $0.error = ServerError(error).message }
            }
            running.store(false, ordering: .releasing)
        }
        return initial
    }

    /// The status of the last ingest into `collection` (state `idle` when there was none).
    func status(_ collection: String) -> IngestStatus {
        jobs.withLock { $0[collection] } ?? IngestStatus(state: "idle", paths: [], total: 0, processed: 0, ingested: 0,
                                                         unchanged: 0, skipped: 0, failed: 0, elapsed_s: 0)
    }

    /// Whether an ingest is running.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    private func update(_ collection: String, _ change: (inout IngestStatus) -> Void) {
        jobs.withLock { jobs in
            if var s = jobs[collection] { change(&s); jobs[collection] = s }
        }
    }
}

extension IngestStatus {
    mutating func apply(_ p: IngestProgress) {
        total = p.total
        processed = p.processed
        ingested = p.ingested
        unchanged = p.unchanged
        skipped = p.skipped
        failed = p.failed
        elapsed_s = p.elapsed
        eta_s = p.eta
    }
}
