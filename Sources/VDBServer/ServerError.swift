import Foundation
import Hummingbird
import VDBCLIP
import VDBCore
import VDBIngest

/// Every error `vdb serve` reports: an HTTP status, a stable machine-readable `code` and a
/// one-line message naming the problem and the value. Sent as
/// `{"error": {"code": "...", "message": "..."}}`; errors thrown by the libraries are mapped with
/// ``init(_:)``. Configuration problems found at start (``VDBServer/init(database:model:configuration:)``)
/// use the same type with a 500 status; they are never sent.
public struct ServerError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Seconds for a `Retry-After` header (503 busy).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { message }

    // MARK: the cases the API uses

    static func badJSON(_ m: String) -> ServerError { ServerError(.badRequest, "bad_json", m) }
    static func badRequest(_ m: String) -> ServerError { ServerError(.badRequest, "bad_request", m) }
    static func invalid(_ m: String) -> ServerError { ServerError(.unprocessableContent, "invalid_argument", m) }
    static func invalidFilter(_ m: String) -> ServerError { ServerError(.unprocessableContent, "invalid_filter", m) }
    static func notFound(_ m: String) -> ServerError { ServerError(.notFound, "not_found", m) }
    static func conflict(_ m: String) -> ServerError { ServerError(.conflict, "conflict", m) }
    static func forbidden(_ m: String) -> ServerError { ServerError(.forbidden, "forbidden", m) }
    static let unauthorized = ServerError(.unauthorized, "unauthorized",
                                          "missing or wrong API key: send the header 'Authorization: Bearer KEY'")
    static let readOnly = ServerError(.forbidden, "read_only", "this server runs with --read-only: writes are refused")
    static func tooLarge(_ limit: Int) -> ServerError {
        ServerError(.contentTooLarge, "body_too_large", "the request body is larger than the limit of \(limit) bytes (--max-body)")
    }
    static func notAnImage(_ m: String) -> ServerError { ServerError(.unsupportedMediaType, "not_an_image", m) }
    static func busy(_ m: String, retryAfter: Int) -> ServerError {
        ServerError(.serviceUnavailable, "busy", m, retryAfter: retryAfter)
    }

    // MARK: library errors

    /// Maps any error to the status and code the API reports.
    public init(_ error: any Error) {
        switch error {
        case let e as ServerError: self = e
        case let e as VDBError: self = ServerError(vdb: e)
        case let e as IngestError: self = ServerError(ingest: e)
        case let e as CLIPError: self = ServerError(clip: e)
        case let e as HTTPError:
            switch e.status {
            case .notFound: self = .notFound("no such route")
            case .contentTooLarge: self = ServerError(.contentTooLarge, "body_too_large", e.body ?? "request body too large")
            case .methodNotAllowed: self = ServerError(.methodNotAllowed, "method_not_allowed", "method not allowed on this route")
            default: self = ServerError(e.status, "http_error", e.body ?? e.status.reasonPhrase)
            }
        case let e as DecodingError: self = .badJSON(Self.describe(e))
        default: self = ServerError(.internalServerError, "internal", "\(error)")
        }
    }

    private init(vdb e: VDBError) {
        switch e {
        case .dimensionMismatch, .nonFiniteComponent, .zeroVector:
            self = ServerError(.badRequest, "bad_vector", e.description)
        case .invalidK, .invalidArgument, .invalidCollectionName, .repeatedID, .indexUnavailable,
             .invalidParameter, .emptyIndex, .nlistExceedsVectors:
            self = .invalid(e.description)
        case .invalidFilter: self = .invalidFilter(e.description)
        case .collectionNotFound: self = .notFound(e.description)
        case .collectionExists, .duplicateID: self = .conflict(e.description)
        case .diskFull: self = ServerError(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), "disk_full", e.description)
        case .importStopped: self = .invalid(e.description)
        case .notADatabase, .incompatibleFormat, .storage, .io, .badInput, .corrupt, .corruptIndexRecord,
             .incompatibleIndex, .transactionEnded:
            self = ServerError(.internalServerError, "storage_error", e.description)
        }
    }

    private init(ingest e: IngestError) {
        switch e {
        case .noUsablePaths: self = .invalid(e.description)
        case .modelMismatch, .incompatibleCollection: self = ServerError(.unprocessableContent, "model_mismatch", e.description)
        case .noCaptions: self = .notFound(e.description)
        case .noModel: self = ServerError(.serviceUnavailable, "no_model", e.description)
        case .stopped: self = ServerError(.internalServerError, "storage_error", e.description)
        }
    }

    private init(clip e: CLIPError) {
        switch e {
        case .emptyImage, .unknownImageFormat: self = .notAnImage(e.description)
        case .truncatedImage, .corruptImage, .unsupportedImage, .imageTooLarge:
            self = ServerError(.unprocessableContent, "bad_image", e.description)
        case .invalidInput, .invalidPixels: self = .invalid(e.description)
        case .outOfMemory: self = ServerError(.serviceUnavailable, "busy", e.description)
        default: self = ServerError(.unprocessableContent, "model_error", e.description)
        }
    }

    /// A one-line description of a JSON decoding failure with the path of the offending field.
    static func describe(_ e: DecodingError) -> String {
        func path(_ p: [any CodingKey]) -> String {
            p.isEmpty ? "the body" : "'" + p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[") + "'"
        }
        switch e {
        case let .dataCorrupted(c):
            if c.codingPath.isEmpty { return "malformed JSON: \(c.debugDescription)" }
            return "\(path(c.codingPath)): \(c.debugDescription)"
        case let .keyNotFound(key, c): return "missing field '\(key.stringValue)' in \(path(c.codingPath))"
        case let .valueNotFound(type, c): return "\(path(c.codingPath)) is null, expected \(type)"
        case let .typeMismatch(type, c): return "\(path(c.codingPath)) has the wrong type, expected \(Self.jsonType(type))"
        @unknown default: return "invalid JSON: \(e)"
        }
    }

    private static func jsonType(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is UInt64.Type, is Int64.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        default: return "\(t)"
        }
    }
}

extension ServerError: HTTPResponseError {
    /// The JSON error response.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let body = (try? JSONEncoder().encode(ErrorBody(error: .init(code: code, message: message)))) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private struct ErrorBody: Encodable {
        struct Detail: Encodable { var code: String; var message: String }
        var error: Detail
    }
}
