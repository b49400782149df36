import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import VDBCLIP
import VDBCore
import VDBIngest

/// `vdb serve`: the HTTP API (under `/api/v1`, in Qdrant's layout) and the photo-search web app
/// (at `/`), over one open ``Database`` and one shared ``CLIPModel``.
///
/// ```swift
/// let db = try Database(path: "photos.vdb")
/// let model = try CLIPModel.load(directory: URL(fileURLWithPath: "Models/demo-clip"))
/// var config = ServerConfiguration()
/// config.port = 8080
/// try await VDBServer(database: db, model: model, configuration: config).run()
/// ```
///
/// Every route calls the libraries; the server adds only HTTP concerns (JSON, statuses, keys,
/// limits). Library calls block (LMDB, search, CLIP), so they never run on Swift's cooperative
/// threads: reads on ``ReadPool`` (one thread per core by default), writes on one serial queue
/// (LMDB has one writer anyway), embeddings through ``EmbeddingQueue``'s bounded slots.
public final class VDBServer: Sendable {
    public let database: Database
    /// The CLIP model for text and image search and for ingest (nil: those routes answer 422).
    public let model: CLIPModel?
    public let configuration: ServerConfiguration
    let logger: Logger
    let metrics = ServerMetrics()
    let embeddings: EmbeddingQueue
    let images: RecordedImages
    let ingests: IngestJobs
    let startTime = Date()

    /// Searches and other blocking reads: as many threads as ``ServerConfiguration/readThreads``.
    let readPool: ReadPool
    private let writeQueue = DispatchQueue(label: "vdb.serve.write", qos: .userInitiated)

    /// - Throws: ``ServerError`` for a configuration that must not start (see ``ServerConfiguration/validate()``)
    ///   or an `--allow-ingest-from` folder that does not exist.
    public init(database: Database, model: CLIPModel?, configuration: ServerConfiguration,
                logger: Logger = Logger(label: "vdb.serve")) throws {
        try configuration.validate()
        self.database = database
        self.model = model
        self.configuration = configuration
        self.logger = logger
        embeddings = EmbeddingQueue(limit: configuration.embeddingConcurrency, maxWaiting: configuration.embeddingQueueLimit,
                                    maxWait: configuration.embeddingWait)
        images = RecordedImages(thumbnailCacheBytes: configuration.thumbnailCacheBytes)
        ingests = try IngestJobs(allowedFolders: configuration.allowIngestFrom)
        readPool = ReadPool(threads: configuration.readThreads)
    }

    /// The router with every route and middleware.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        if let origin = configuration.corsOrigin {
            router.add(middleware: CORSMiddleware(allowOrigin: .custom(origin),
                                                  allowHeaders: [.authorization, .contentType],
                                                  allowMethods: [.get, .put, .post, .delete, .options], maxAge: .seconds(600)))
        }
        router.add(middleware: RequestObserver(server: self))
        if let key = configuration.apiKey, !key.isEmpty {
            router.add(middleware: APIKeyCheck(key: key))
        }
        addRoutes(to: router)
        return router
    }

    /// The Hummingbird application serving ``makeRouter()`` on the configured host and port.
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        let (seconds, attoseconds) = configuration.idleTimeout.components
        let idleNanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000
        return Application(
            router: makeRouter(),
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(max(1_000_000, idleNanoseconds)))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vdb"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Serves until SIGINT or SIGTERM.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        Self.keepFreedHeapMemory()
        try await makeApplication(onServerRunning: onServerRunning).runService()
    }

    /// Lets glibc's allocator keep freed memory for the next request (process-wide; called by
    /// ``run(onServerRunning:)``). By default it gives the free top of a heap back to the kernel
    /// once it passes 128 KiB (a threshold it raises only to a few MiB) and serves blocks from
    /// 128 KiB up with fresh `mmap`s, so a batch search, which allocates and frees a few MiB (the
    /// body, its vectors, the answer), took every page of them from the kernel again, zeroed:
    /// page faults were 6.5% of the server's CPU under the `search/batch` load test. Now blocks
    /// below 8 MiB come from the heaps, and up to 16 MiB of free memory stays in each.
    static func keepFreedHeapMemory() {
        #if canImport(Glibc)
        // `mallopt` is in <malloc.h>, which the Glibc module leaves out: found by name. The
        // parameter numbers are glibc's (M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3).
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(-3, 8 << 20)
        _ = mallopt(-1, 16 << 20)
        #endif
    }

    // MARK: - where library calls run

    /// Runs a blocking read (search, get, info...) off the cooperative threads, on the read pool.
    func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in readPool.submit { c.resume(with: Result(catching: body)) } }
    }

    /// Runs a write (upsert, delete, index build...) on the serial write queue.
    func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in writeQueue.async { c.resume(with: Result(catching: body)) } }
    }

    /// Runs a CLIP embedding (and the search that uses it) in a bounded slot.
    func embed<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await embeddings.run { try await self.read(body) }
    }

    /// The model, or 422 naming how to give one.
    func requireModel() throws -> CLIPModel {
        guard let model else {
            throw ServerError(.unprocessableContent, "no_model",
                              "this server has no CLIP model: start it with --model DIR (or $VDB_MODEL) for text and image search and ingest")
        }
        return model
    }
}
