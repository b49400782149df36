import Foundation
import Hummingbird
import VDBCore

/// The server description `GET /api/v1` returns (the web app reads it first).
struct ServerInfo: Encodable {
    struct Model: Encodable { var fingerprint: String; var dimension: Int; var directory: String }
    var name = "vdb"
    var read_only: Bool
    var auth: Bool
    var model: Model?
    var ingest_roots: [String]
    var max_body_bytes: Int
    var uptime_s: Double
}

extension VDBServer {
    func addWebRoutes(to router: Router<BasicRequestContext>) {
        router.get("/", use: { _, _ in Self.asset(PackageResources.index_html, "text/html; charset=utf-8") })
        router.get("/app.js", use: { _, _ in Self.asset(PackageResources.app_js, "text/javascript; charset=utf-8") })
        router.get("/app.css", use: { _, _ in Self.asset(PackageResources.app_css, "text/css; charset=utf-8") })
        router.get("/healthz", use: healthz)
        router.get("/metrics", use: prometheusMetrics)
    }

    /// A web app file, compiled into the binary. The policy allows nothing from elsewhere.
    static func asset(_ bytes: [UInt8], _ type: String) -> Response {
        Response(status: .ok,
                 headers: [.contentType: type, .cacheControl: "no-cache",
                           .contentSecurityPolicy: "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
                           .init("X-Content-Type-Options")!: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `GET /api/v1`: what this server offers.
    @Sendable func serverInfo(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try json(ServerInfo(read_only: configuration.readOnly, auth: !(configuration.apiKey ?? "").isEmpty,
                            model: model.map { .init(fingerprint: $0.fingerprint, dimension: $0.embeddingDimension, directory: $0.directory.path) },
                            ingest_roots: ingests.roots, max_body_bytes: configuration.maxBodyBytes,
                            uptime_s: Date().timeIntervalSince(startTime).rounded()))
    }

    /// `GET /healthz`: 200 while the database answers, 503 otherwise.
    @Sendable func healthz(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        do {
            let n = try await read { [database] in try database.collectionNames().count }
            return try json(["status": "ok", "collections": String(n)])
        } catch {
            throw ServerError(.serviceUnavailable, "unhealthy", "the database does not answer: \(ServerError(error).message)")
        }
    }

    /// `GET /metrics`: Prometheus text format.
    @Sendable func prometheusMetrics(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let sizes = try await read { [database] in
            try database.collectionNames().map { name in
                let c = try database.collection(named: name)
                return (name, try c.count(), try c.info().bytesOnDisk)
            }
        }
        let running = await embeddings.running, waiting = await embeddings.waiting, rejected = await embeddings.rejected
        let cache = images.cachedThumbnails
        let text = metrics.render(gauges: [
            ("vdb_collection_vectors", "Vectors stored per collection.", sizes.map { ([("collection", $0.0)], Double($0.1)) }),
            ("vdb_collection_bytes", "Approximate bytes on disk per collection.", sizes.map { ([("collection", $0.0)], Double($0.2)) }),
            ("vdb_database_file_bytes", "Bytes of the database file.", [([], Double(database.bytesOnDisk))]),
            ("vdb_embedding_running", "CLIP embeddings running.", [([], Double(running))]),
            ("vdb_embedding_waiting", "Requests waiting for an embedding slot.", [([], Double(waiting))]),
            ("vdb_embedding_rejected", "Embedding requests refused with 503 since start.", [([], Double(rejected))]),
            ("vdb_thumbnail_cache_bytes", "Bytes of cached thumbnails.", [([], Double(cache.bytes))]),
            ("vdb_ingest_running", "1 while an ingest runs.", [([], ingests.isRunning ? 1 : 0)]),
        ])
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
