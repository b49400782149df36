import Foundation

/// Settings of `vdb serve` (each is a command-line flag; see Docs/http-api.md).
public struct ServerConfiguration: Sendable {
    /// Address to bind. Anything but a loopback address needs an ``apiKey``.
    public var host: String = "127.0.0.1"
    /// TCP port (0: any free port, reported once bound).
    public var port: Int = 8080
    /// When set, every `/api` route and `/metrics` need `Authorization: Bearer KEY`.
    public var apiKey: String?
    /// Refuse every write (403).
    public var readOnly = false
    /// Origin allowed by CORS (`Access-Control-Allow-Origin`); nil: no CORS headers.
    public var corsOrigin: String?
    /// Folders `POST .../ingest` may read; empty: HTTP ingest disabled.
    public var allowIngestFrom: [String] = []
    /// Largest request body in bytes (413 above).
    public var maxBodyBytes = 32 << 20
    /// Threads that run searches and other reads (at least 1); more requests wait in line. As
    /// many as cores by default: more cannot search faster, and they would take the CPU from the
    /// writer (see ReadPool.swift).
    public var readThreads = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// CLIP embeddings (text and image searches) running at once.
    public var embeddingConcurrency = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Embedding requests that may wait for a slot; more get 503 at once.
    public var embeddingQueueLimit = 64
    /// How long an embedding request waits for a slot before 503 with `Retry-After`.
    public var embeddingWait: Duration = .seconds(15)
    /// A connection that sends nothing for this long is closed (slow or stuck clients).
    public var idleTimeout: Duration = .seconds(30)
    /// Bytes of JPEG thumbnails kept in memory.
    public var thumbnailCacheBytes = 64 << 20
    /// Largest `k + offset` of a search.
    public var maxK = 10_000

    public init() {}

    /// Whether `host` names the loopback interface only.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Checks the settings before the server starts.
    /// - Throws: ``ServerError`` naming the problem (e.g. a non-loopback host without a key).
    public func validate() throws {
        if !ServerConfiguration.isLoopback(host) && (apiKey ?? "").isEmpty {
            throw ServerError(.internalServerError, "insecure_bind",
                              "refusing to listen on '\(host)' without an API key: anyone on the network could read and change the database. "
                              + "Pass --api-key KEY (or set VDB_API_KEY), or bind 127.0.0.1")
        }
        if let key = apiKey, !key.isEmpty, key.count < 8 {
            throw ServerError(.internalServerError, "weak_key", "the API key must be at least 8 characters (got \(key.count))")
        }
        guard (0...65535).contains(port) else {
            throw ServerError(.internalServerError, "bad_config", "--port must be 0...65535 (got \(port))")
        }
        guard maxBodyBytes >= 1024 else {
            throw ServerError(.internalServerError, "bad_config", "--max-body must be at least 1024 bytes (got \(maxBodyBytes))")
        }
        guard embeddingConcurrency >= 1, embeddingQueueLimit >= 0 else {
            throw ServerError(.internalServerError, "bad_config", "embedding concurrency must be >= 1 and the queue limit >= 0")
        }
    }
}
