import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import VDBServer

@Suite struct WebAppTests {
    @Test func theAppIsServedFromTheBinaryWithAStrictPolicy() async throws {
        try await Harness().test { client in
            let page = try await client.call(.get, "/")
            #expect(page.status == 200)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.text.contains(#"<script src="/app.js""#))
            #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
            // Nothing is loaded from elsewhere: no src/href/url()/fetch to another origin.
            let external = try NSRegularExpression(pattern: #"(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|fetch\(\s*["'`](https?:)?//"#)
            for asset in ["/", "/app.js", "/app.css"] {
                let r = try await client.call(.get, asset)
                #expect(r.status == 200, "\(asset)")
                let text = r.text
                #expect(external.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil, "\(asset) loads from another site")
            }
            #expect(try await client.call(.get, "/app.js").headers[.contentType]?.hasPrefix("text/javascript") == true)
        }
    }

    @Test func healthzServerInfoAndMetrics() async throws {
        try await Harness().test { client in
            let health = try await client.call(.get, "/healthz")
            #expect(health.status == 200)
            #expect(health.json?["status"] as? String == "ok")
            let info = try await client.call(.get, "/api/v1")
            #expect(info.json?["read_only"] as? Bool == false)
            #expect(info.json?["model"] == nil || info.json?["model"] is NSNull)
            try await seed(client, "c", dim: 2, metric: "l2", vectors: [[0, 0], [1, 1]])
            _ = try await client.call(.post, "/api/v1/collections/c/search", json: #"{"vector": [0, 0]}"#)
            _ = try await client.call(.post, "/api/v1/collections/c/search", json: #"{"vector": [0]}"#)
            let m = try await client.call(.get, "/metrics")
            #expect(m.status == 200)
            #expect(m.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = m.text
            #expect(text.contains(#"vdb_http_requests_total{method="POST",route="/api/v1/collections/{name}/search",status="200"} 1"#))
            #expect(text.contains(#"vdb_http_requests_total{method="POST",route="/api/v1/collections/{name}/search",status="400"} 1"#))
            #expect(text.contains(#"vdb_http_request_duration_seconds_bucket{route="/api/v1/collections/{name}/search",le="+Inf"} 2"#))
            #expect(text.contains(#"vdb_http_errors_total{code="bad_vector"} 1"#))
            #expect(text.contains(#"vdb_collection_vectors{collection="c"} 2"#))
            #expect(text.contains("# TYPE vdb_http_request_duration_seconds histogram"))
        }
    }
}
