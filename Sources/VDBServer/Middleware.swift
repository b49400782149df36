import Crypto
import Dispatch
import Hummingbird
import Logging
import VDBCLIP

/// Outermost middleware (inside CORS): turns every error into the JSON error body, logs one
/// line per request (method, path, status, milliseconds) and records the request metrics.
struct RequestObserver: RouterMiddleware {
    typealias Context = BasicRequestContext
    let server: VDBServer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        var response: Response
        var errorCode: String?
        do {
            response = try await next(request, context)
        } catch {
            let e = ServerError(error)
            errorCode = e.code
            response = try e.response(from: request, context: context)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let route = context.endpointPath ?? "unmatched"
        server.metrics.record(method: request.method.rawValue, route: route, status: response.status.code,
                              seconds: seconds, errorCode: errorCode)
        let ms = (seconds * 1e4).rounded() / 10
        let line = "\(request.method.rawValue) \(request.uri.path) \(response.status.code) \(ms)ms"
        if let errorCode, response.status.code >= 500 {
            server.logger.error("\(line) \(errorCode)")
        } else {
            server.logger.info("\(line)")
        }
        return response
    }
}

/// Requires `Authorization: Bearer KEY` on `/api/...` and `/metrics` (the web app's own files
/// and `/healthz` stay open). The comparison takes the same time whatever the given key is.
struct APIKeyCheck: RouterMiddleware {
    typealias Context = BasicRequestContext
    private let digest: [UInt8]

    init(key: String) { digest = APIKeyCheck.digest(key) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/api" || path.hasPrefix("/api/") || path == "/metrics" {
            let header = request.headers[.authorization] ?? ""
            let given = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
            guard APIKeyCheck.constantTimeEqual(APIKeyCheck.digest(given), digest) else { throw ServerError.unauthorized }
        }
        return try await next(request, context)
    }

    /// SHA-256 of the key: both sides have the same length whatever was sent.
    static func digest(_ key: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(key.utf8)))
    }

    /// Compares every byte, with no early exit.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
