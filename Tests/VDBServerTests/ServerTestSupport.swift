import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VDBTestSupport
import VDBCLIP
import VDBCore
import VDBIngest
@testable import VDBServer

/// The bundled demo CLIP model, loaded once for every test.
let demoModel: CLIPModel? = try? CLIPModel.load(directory: Repo.demoModel, threads: 1)

func requireModel() throws -> CLIPModel {
    try #require(demoModel, "the demo model must load from \(Repo.demoModel.path)")
}

/// A fresh temporary directory (real path: /tmp may be a link).
func makeTempDir(_ label: String) -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-serve-\(label)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return PathConfinement.realPath(url.path) ?? url.path
}

/// Copies the first `count` sample photos into `dir`; returns their file names.
@discardableResult
func copySamples(_ count: Int, into dir: String) throws -> [String] {
    let names = try FileManager.default.contentsOfDirectory(atPath: Repo.samples.path)
        .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted().prefix(count)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for n in names { try FileManager.default.copyItem(atPath: Repo.samples.appendingPathComponent(n).path, toPath: dir + "/" + n) }
    return Array(names)
}

/// A server over a temporary database, for one test.
struct Harness {
    let dir: String
    let db: Database
    let server: VDBServer

    /// - Parameters:
    ///   - withModel: share the demo CLIP model (text / image search, ingest).
    ///   - ingestFolders: folders created under the harness directory and allowed for HTTP ingest.
    ///   - configure: adjusts the configuration (the port is 0: any free port).
    init(withModel: Bool = false, ingestFolders: [String] = [], configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        dir = makeTempDir("db")
        db = try Database(path: dir + "/db")
        var config = ServerConfiguration()
        config.port = 0
        for f in ingestFolders {
            try FileManager.default.createDirectory(atPath: dir + "/" + f, withIntermediateDirectories: true)
            config.allowIngestFrom.append(dir + "/" + f)
        }
        configure(&config)
        var logger = Logger(label: "vdb.serve.test")
        logger.logLevel = .critical
        server = try VDBServer(database: db, model: withModel ? try requireModel() : nil, configuration: config, logger: logger)
    }

    /// Ingests the first `count` sample photos (copied to `<dir>/photos`) into the collection `photos`.
    @discardableResult
    func ingestSamples(_ count: Int = 1000) throws -> [String] {
        let names = try copySamples(count, into: dir + "/photos")
        _ = try Ingestor(database: db, model: try requireModel()).run(paths: [dir + "/photos"], options: IngestOptions(collection: "photos", threads: 1))
        return names
    }

    /// Runs `body` against the router in process (no sockets), or a live server.
    func test<T: Sendable>(live: Bool = false, _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try await server.makeApplication().test(live ? .live : .router, body)
    }
}

/// A response with its JSON parsed.
struct Reply: Sendable {
    let status: Int
    let headers: HTTPFields
    let bytes: [UInt8]

    /// The body parsed as JSON (nil when it is not JSON).
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] }
    /// `error.code` of an error reply.
    var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String { (json?["error"] as? [String: Any])?["message"] as? String ?? "" }
    var text: String { String(decoding: bytes, as: UTF8.self) }
    /// `results` of a search reply.
    var results: [[String: Any]] { json?["results"] as? [[String: Any]] ?? [] }
    var resultIDs: [UInt64] { results.compactMap { ($0["id"] as? NSNumber)?.uint64Value } }
}

extension TestClientProtocol {
    /// Sends a request with a JSON (`json`) or raw (`bytes`) body.
    func call(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, bytes: [UInt8]? = nil,
              headers: HTTPFields = [:]) async throws -> Reply {
        var headers = headers
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(string: json)
            if headers[.contentType] == nil { headers[.contentType] = "application/json" }
        } else if let bytes {
            body = ByteBuffer(bytes: bytes)
        }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { r in
            Reply(status: Int(r.status.code), headers: r.headers, bytes: Array(r.body.readableBytesView))
        }
    }
}

/// The JSON text of an array of floats.
func jsonVector(_ v: [Float]) -> String { "[" + v.map { "\($0)" }.joined(separator: ",") + "]" }

/// Creates collection `name` with the given points (id i+1 for row i) through the API.
func seed(_ client: any TestClientProtocol, _ name: String, dim: Int, metric: String, vectors: [[Float]],
          metadata: [String]? = nil) async throws {
    let created = try await client.call(.put, "/api/v1/collections/\(name)", json: #"{"dim": \#(dim), "metric": "\#(metric)"}"#)
    #expect(created.status == 201, "\(created.text)")
    let points = vectors.enumerated().map { i, v in
        #"{"id": \#(i + 1), "vector": \#(jsonVector(v))\#(metadata.map { ", \"metadata\": \($0[i])" } ?? "")}"#
    }
    let r = try await client.call(.put, "/api/v1/collections/\(name)/points", json: #"{"points": [\#(points.joined(separator: ","))]}"#)
    #expect(r.status == 200, "\(r.text)")
}
