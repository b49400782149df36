import Foundation
import Hummingbird
import VDBCore

/// A route handler.
typealias Handler = @Sendable (Request, BasicRequestContext) async throws -> Response

extension VDBServer {
    /// Registers every route (Docs/http-api.md lists them).
    func addRoutes(to router: Router<BasicRequestContext>) {
        addWebRoutes(to: router)
        let api = router.group("api/v1")
        api.get("", use: serverInfo)
        addCollectionRoutes(to: api)
        addPointRoutes(to: api)
        addSearchRoutes(to: api)
        addIndexAndIngestRoutes(to: api)
        addImageRoutes(to: api)
    }

    // MARK: - helpers shared by the routes

    /// Wraps a handler that changes the database: 403 under `--read-only`.
    func writing(_ handler: @escaping Handler) -> Handler {
        let readOnly = configuration.readOnly
        return { request, context in
            if readOnly { throw ServerError.readOnly }
            return try await handler(request, context)
        }
    }

    /// A JSON response.
    func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The request body, refused with 413 beyond `--max-body` (before reading it when
    /// `Content-Length` says so).
    func bodyBytes(_ request: Request) async throws -> ByteBuffer {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw ServerError.tooLarge(limit)
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let e as HTTPError where e.status == .contentTooLarge {
            throw ServerError.tooLarge(limit)
        }
    }

    /// The JSON body decoded as `T`: 400 for malformed JSON or a field of the wrong type.
    func body<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let buffer = try await bodyBytes(request)
        guard buffer.readableBytes > 0 else { throw ServerError.badJSON("the request body is empty: send a JSON object") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let e as DecodingError {
            throw ServerError.badJSON(ServerError.describe(e))
        }
    }

    /// The `{name}` path parameter.
    func collectionName(_ context: BasicRequestContext) throws -> String {
        try context.parameters.require("name")
    }

    /// The collection named by the path (404 when there is none).
    func collection(_ context: BasicRequestContext) async throws -> Collection {
        let name = try collectionName(context)
        return try await read { [database] in try database.collection(named: name) }
    }

    /// The `{id}` path parameter.
    func pointID(_ context: BasicRequestContext) throws -> UInt64 {
        try PointID(parsing: try context.parameters.require("id")).value
    }
}

extension Request {
    /// An integer query parameter, or `fallback` when absent. - Throws: 400 when not an integer.
    func intParameter(_ name: String, default fallback: Int) throws -> Int {
        guard let raw = uri.queryParameters[Substring(name)] else { return fallback }
        guard let v = Int(raw) else { throw ServerError.badRequest("query parameter '\(name)' must be an integer (got '\(raw)')") }
        return v
    }

    /// A boolean query parameter (`true`/`false`/`1`/`0`).
    func boolParameter(_ name: String, default fallback: Bool) throws -> Bool {
        guard let raw = uri.queryParameters[Substring(name)] else { return fallback }
        switch raw.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ServerError.badRequest("query parameter '\(name)' must be true or false (got '\(raw)')")
        }
    }
}
