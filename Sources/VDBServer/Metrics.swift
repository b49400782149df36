import Foundation
import Synchronization

/// Request counters and a latency histogram, rendered in the Prometheus text format by
/// `GET /metrics` (with the collection sizes and embedding queue, which are read when scraped).
final class ServerMetrics: Sendable {
    /// Upper bounds (seconds) of the latency histogram buckets.
    static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct RequestKey: Hashable { var method: String; var route: String; var status: Int }
    private struct Histogram {
        var counts = [UInt64](repeating: 0, count: ServerMetrics.buckets.count)
        var count: UInt64 = 0
        var sum: Double = 0
    }
    private struct State {
        var requests: [RequestKey: UInt64] = [:]
        var latency: [String: Histogram] = [:]
        var errors: [String: UInt64] = [:]
    }
    private let state = Mutex(State())

    /// Records one finished request. `route` is the route pattern (bounded label cardinality).
    func record(method: String, route: String, status: Int, seconds: Double, errorCode: String?) {
        state.withLock { s in
            s.requests[RequestKey(method: method, route: route, status: status), default: 0] += 1
            var h = s.latency[route] ?? Histogram()
            for (i, b) in ServerMetrics.buckets.enumerated() where seconds <= b { h.counts[i] += 1 }
            h.count += 1
            h.sum += seconds
            s.latency[route] = h
            if let errorCode { s.errors[errorCode, default: 0] += 1 }
        }
    }

    /// The Prometheus text exposition of the counters plus `gauges` (name, help, labelled values).
    func render(gauges: [(name: String, help: String, values: [(labels: [(String, String)], value: Double)])]) -> String {
        let s = state.withLock { $0 }
        var out = ""
        out += "# HELP vdb_http_requests_total HTTP requests by method, route and status.\n"
        out += "# TYPE vdb_http_requests_total counter\n"
        for (k, v) in s.requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            out += "vdb_http_requests_total\(labels([("method", k.method), ("route", k.route), ("status", String(k.status))])) \(v)\n"
        }
        out += "# HELP vdb_http_request_duration_seconds HTTP request latency by route.\n"
        out += "# TYPE vdb_http_request_duration_seconds histogram\n"
        for (route, h) in s.latency.sorted(by: { $0.key < $1.key }) {
            for (i, b) in ServerMetrics.buckets.enumerated() {
                out += "vdb_http_request_duration_seconds_bucket\(labels([("route", route), ("le", format(b))])) \(h.counts[i])\n"
            }
            out += "vdb_http_request_duration_seconds_bucket\(labels([("route", route), ("le", "+Inf")])) \(h.count)\n"
            out += "vdb_http_request_duration_seconds_sum\(labels([("route", route)])) \(format(h.sum))\n"
            out += "vdb_http_request_duration_seconds_count\(labels([("route", route)])) \(h.count)\n"
        }
        out += "# HELP vdb_http_errors_total Error responses by error code.\n"
        out += "# TYPE vdb_http_errors_total counter\n"
        for (code, v) in s.errors.sorted(by: { $0.key < $1.key }) {
            out += "vdb_http_errors_total\(labels([("code", code)])) \(v)\n"
        }
        for g in gauges {
            out += "# HELP \(g.name) \(g.help)\n# TYPE \(g.name) gauge\n"
            for v in g.values { out += "\(g.name)\(labels(v.labels)) \(format(v.value))\n" }
        }
        return out
    }

    private func labels(_ pairs: [(String, String)]) -> String {
        if pairs.isEmpty { return "" }
        return "{" + pairs.map { k, v in
            k + "=\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n") + "\""
        }.joined(separator: ",") + "}"
    }

    private func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}
