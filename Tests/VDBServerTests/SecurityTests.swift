import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import VDBServer

@Suite struct SecurityTests {
    @Test func anAPIKeyGuardsTheAPIAndMetrics() async throws {
        try await Harness(configure: { $0.apiKey = "correct horse battery" }).test { client in
            let none = try await client.call(.get, "/api/v1/collections")
            #expect(none.status == 401)
            #expect(none.errorCode == "unauthorized")
            #expect(try await client.call(.get, "/api/v1/collections", headers: [.authorization: "Bearer wrong"]).status == 401)
            #expect(try await client.call(.get, "/api/v1/collections", headers: [.authorization: "correct horse battery"]).status == 401)
            #expect(try await client.call(.get, "/api/v1/collections", headers: [.authorization: "Bearer correct horse battery"]).status == 200)
            #expect(try await client.call(.put, "/api/v1/collections/x", json: #"{"dim": 2}"#).status == 401)
            #expect(try await client.call(.get, "/metrics").status == 401)
            #expect(try await client.call(.get, "/metrics", headers: [.authorization: "Bearer correct horse battery"]).status == 200)
            // The web app's files and the health check stay open (the page asks for the key).
            #expect(try await client.call(.get, "/").status == 200)
            #expect(try await client.call(.get, "/healthz").status == 200)
            let info = try await client.call(.get, "/api/v1", headers: [.authorization: "Bearer correct horse battery"])
            #expect(info.json?["auth"] as? Bool == true)
        }
        #expect(APIKeyCheck.constantTimeEqual(APIKeyCheck.digest("a"), APIKeyCheck.digest("a")))
        #expect(!APIKeyCheck.constantTimeEqual(APIKeyCheck.digest("a"), APIKeyCheck.digest("b")))
    }

    @Test func readOnlyRefusesEveryWrite() async throws {
        let h = try Harness(withModel: true, ingestFolders: ["in"]) { $0.readOnly = true }
        _ = try h.db.createCollection(name: "c", dimension: 2, metric: .l2).insert([[0, 1]], ids: [1])
        try await h.test { client in
            let writes: [(HTTPRequest.Method, String, String?)] = [
                (.put, "/api/v1/collections/d", #"{"dim": 2}"#),
                (.delete, "/api/v1/collections/c", nil),
                (.put, "/api/v1/collections/c/points", #"{"points": [{"id": 2, "vector": [1, 1]}]}"#),
                (.post, "/api/v1/collections/c/points/delete", #"{"ids": [1]}"#),
                (.post, "/api/v1/collections/c/index", #"{"type": "hnsw"}"#),
                (.delete, "/api/v1/collections/c/index", nil),
                (.post, "/api/v1/collections/c/ingest", #"{"paths": ["\#(h.dir)/in"]}"#),
            ]
            for (method, uri, body) in writes {
                let r = try await client.call(method, uri, json: body)
                #expect(r.status == 403, "\(method) \(uri)")
                #expect(r.errorCode == "read_only")
            }
            // Reads still work, and nothing changed.
            let s = try await client.call(.post, "/api/v1/collections/c/search", json: #"{"vector": [0, 1], "k": 5}"#)
            #expect(s.resultIDs == [1])
            #expect(try await client.call(.post, "/api/v1/collections/c/points/scroll", json: "{}").status == 200)
            #expect((try await client.call(.get, "/api/v1/collections")).text.contains(#""name":"c""#))
            #expect(try await client.call(.get, "/api/v1").json?["read_only"] as? Bool == true)
        }
    }

    @Test func corsOnlyWhenAsked() async throws {
        try await Harness { $0.corsOrigin = "https://app.example" }.test { client in
            let r = try await client.call(.get, "/api/v1/collections", headers: [.origin: "https://app.example"])
            #expect(r.status == 200)
            #expect(r.headers[.accessControlAllowOrigin] == "https://app.example")
            let preflight = try await client.call(.options, "/api/v1/collections/x/search",
                                                  headers: [.origin: "https://app.example", .accessControlRequestMethod: "POST"])
            #expect(preflight.status < 300)
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)
        }
        try await Harness().test { client in
            let r = try await client.call(.get, "/api/v1/collections", headers: [.origin: "https://app.example"])
            #expect(r.status == 200)
            #expect(r.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func aNonLoopbackHostNeedsAKey() throws {
        var config = ServerConfiguration()
        config.host = "0.0.0.0"
        #expect { try config.validate() } throws: { ($0 as? ServerError)?.code == "insecure_bind" }
        config.host = "192.168.1.10"
        #expect { try config.validate() } throws: { ($0 as? ServerError)?.message.contains("API key") == true }
        config.apiKey = "short"
        #expect { try config.validate() } throws: { ($0 as? ServerError)?.code == "weak_key" }
        config.apiKey = "long enough key"
        try config.validate()
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"] {
            #expect(ServerConfiguration.isLoopback(host), "\(host)")
        }
        for host in ["0.0.0.0", "::", "10.0.0.1", "example.com", "127.0.0.1.example.com"] {
            #expect(!ServerConfiguration.isLoopback(host), "\(host)")
        }
    }

    @Test func oversizeBodiesAre413AndTheServerKeepsServing() async throws {
        try await Harness(withModel: true, configure: { $0.maxBodyBytes = 2048 }).test { client in
            try await seed(client, "c", dim: 2, metric: "l2", vectors: [[0, 0]])
            let points = (0..<200).map { #"{"id": \#($0 + 10), "vector": [1, 2]}"# }.joined(separator: ",")
            let big = try await client.call(.put, "/api/v1/collections/c/points", json: #"{"points": [\#(points)]}"#)
            #expect(big.status == 413)
            #expect(big.errorCode == "body_too_large")
            let upload = try await client.call(.post, "/api/v1/collections/c/search/image", bytes: [UInt8](repeating: 0xFF, count: 5000))
            #expect(upload.status == 413)
            let info = try await client.call(.get, "/api/v1/collections/c")
            #expect(info.json?["count"] as? Int == 1)
        }
    }

    @Test func liveServerClosesSlowClientsAndKeepsServing() async throws {
        let h = try Harness { $0.idleTimeout = .milliseconds(300); $0.maxBodyBytes = 4096 }
        try await h.test(live: true) { client in
            let port = try #require(client.port)
            // A client that sends half a request and then nothing.
            let fd = try connectLoopback(port: port)
            defer { close(fd) }
            let partial = "PUT /api/v1/collections/slow HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"dim\""
            _ = partial.withCString { send(fd, $0, strlen($0), 0) }
            // Meanwhile others are served (on new connections: with this short idle timeout the test
            // client's keep-alive connection may be closed whenever it waits).
            #expect(try rawStatus(port: port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 200)
            // The stalled connection is closed after the idle timeout (recv returns 0 or an error).
            var buffer = [UInt8](repeating: 0, count: 512)
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let start = Date()
            var n = 1
            while n > 0 { n = recv(fd, &buffer, buffer.count, 0) }
            #expect(Date().timeIntervalSince(start) < 4, "closed by the idle timeout, not the test's 5 s receive timeout")
            #expect(try rawStatus(port: port, "GET /api/v1/collections/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 404,
                    "the partial request created nothing")
            // An oversize body on a real socket: refused from its Content-Length.
            let body = String(repeating: " ", count: 10_000) + "{}"
            #expect(try rawStatus(port: port, "PUT /api/v1/collections/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body) == 413)
            #expect(try rawStatus(port: port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 200)
        }
    }
}

/// Sends `request` on a new connection and returns the status code of the answer.
func rawStatus(port: Int, _ request: String) throws -> Int {
    let fd = try connectLoopback(port: port)
    defer { close(fd) }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    let bytes = Array(request.utf8)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { break }  // the server may close early (413 before the whole body)
        sent += n
    }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !answer.contains(0x0A) {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        answer += buffer[0..<n]
    }
    let line = String(decoding: answer.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)  // "HTTP/1.1 404 Not Found"
    let parts = line.split(separator: " ")
    return parts.count >= 2 ? Int(parts[1]) ?? -1 : -1
}

/// A TCP socket connected to 127.0.0.1:`port`.
func connectLoopback(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(rc == 0, "connect to port \(port) failed")
    return fd
}
