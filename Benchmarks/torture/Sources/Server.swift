// `vdb serve` as a child process, and a minimal blocking HTTP/1.1 client for it.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A running `vdb serve` on a free loopback port.
final class ServerProcess: @unchecked Sendable {  // `child` is immutable; the kill timer only signals
    let child: Child
    let port: Int
    private var result: ChildResult?
    private var killedByUs = false

    init(vdb: String, db: String, work: String, extra: [String] = []) throws {
        child = try Child(vdb, ["--db", db, "serve", "--host", "127.0.0.1", "--port", "0"] + extra, workDir: work)
        let deadline = Date().addingTimeInterval(60)
        var found: Int?
        while found == nil && Date() < deadline && !child.poll() {
            let err = (try? String(contentsOfFile: child.errPath, encoding: .utf8)) ?? ""
            if let r = err.range(of: "http://127.0.0.1:") {
                found = Int(err[r.upperBound...].prefix { $0.isNumber })
            } else {
                usleep(5000)
            }
        }
        guard let found else {
            let r = child.wait(timeout: 1)
            throw HarnessError("vdb serve did not start: \(r.stderr)")
        }
        port = found
    }

    func kill() { killedByUs = true; child.signal(SIGKILL) }

    /// Kills the server `seconds` from now, from another thread.
    func killLater(after seconds: Double) {
        killedByUs = true
        let pid = child.pid
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { Glibc.kill(pid, SIGKILL) }
    }

    var isRunning: Bool { !child.poll() }

    /// Stops the server (Ctrl-C, then SIGKILL after 10 s) and returns how it ended.
    @discardableResult
    func stop() -> ChildResult {
        if let result { return result }
        child.signal(SIGINT)
        let r = child.wait(timeout: Date().timeIntervalSince(child.started) + 10, killedByUs: killedByUs)
        result = r
        return r
    }
}

/// A minimal HTTP/1.1 client over a loopback socket: one request per connection.
enum HTTPClient {
    struct Response {
        var status: Int
        var body: Data
        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends one request and reads the whole response (the server closes the connection).
    /// Throws when the connection fails or no complete status line arrives within `timeout`.
    static func request(port: Int, method: String, path: String, body: Data = Data(),
                        contentType: String = "application/json", timeout: Double = 60) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw HarnessError("connect: \(String(cString: strerror(errno)))") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\r\n"
        var out = Data(head.utf8)
        out.append(body)
        try out.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if n <= 0 { throw HarnessError("send: \(String(cString: strerror(errno)))") }
                sent += n
            }
        }
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        guard let sep = data.range(of: Data("\r\n\r\n".utf8)),
              let statusLine = String(data: data[..<sep.lowerBound], encoding: .utf8)?.split(separator: "\r\n").first,
              let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
            throw HarnessError("no HTTP response (\(data.count) bytes)")
        }
        var body = Data(data[sep.upperBound...])
        let headers = String(decoding: data[..<sep.lowerBound], as: UTF8.self).lowercased()
        if headers.contains("transfer-encoding: chunked") { body = dechunk(body) }
        return Response(status: status, body: body)
    }

    static func dechunk(_ d: Data) -> Data {
        var out = Data(), i = d.startIndex
        while i < d.endIndex {
            guard let lineEnd = d[i...].range(of: Data("\r\n".utf8)),
                  let size = Int(String(decoding: d[i..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? "", radix: 16),
                  size > 0 else { break }
            let start = lineEnd.upperBound
            let end = d.index(start, offsetBy: size, limitedBy: d.endIndex) ?? d.endIndex
            out.append(d[start..<end])
            i = d.index(end, offsetBy: 2, limitedBy: d.endIndex) ?? d.endIndex
        }
        return out
    }
}
