import VDBCore

/// Writes JSON into a byte array, for the search answer (the hot path's other half:
/// `JSONEncoder` spent about as long on ten hits as the HNSW search itself). The output is what
/// the `JSONEncoder` of ``VDBServer/json(_:status:)`` writes for the same value: sorted keys,
/// slashes not escaped, shortest round-trip numbers; a non-finite float becomes `null`.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0a: raw("\\n")
            case 0x0d: raw("\\r")
            case 0x09: raw("\\t")
            case 0x08: raw("\\b")
            case 0x0c: raw("\\f")
            case 0..<0x20:
                raw("\\u00")
                bytes.append(Self.hex[Int(b >> 4)])
                bytes.append(Self.hex[Int(b & 0xf)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex = Array("0123456789abcdef".utf8)

    mutating func float(_ x: Float) {
        guard x.isFinite else { raw("null"); return }
        number(x.description)
    }

    mutating func double(_ x: Double) {
        guard x.isFinite else { raw("null"); return }
        number(x.description)
    }

    /// Swift's shortest round-trip text, written as JSON writes it: "3.0" -> "3".
    private mutating func number(_ text: String) {
        if text.hasSuffix(".0") { bytes.append(contentsOf: text.utf8.dropLast(2)) } else { bytes.append(contentsOf: text.utf8) }
    }

    mutating func integer<T: FixedWidthInteger>(_ x: T) {
        bytes.append(contentsOf: String(x).utf8)
    }

    mutating func bool(_ b: Bool) { b ? raw("true") : raw("false") }

    /// A metadata object, keys sorted.
    mutating func metadata(_ m: JSONMetadata) {
        bytes.append(UInt8(ascii: "{"))
        for (i, key) in m.keys.sorted().enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            string(key)
            bytes.append(UInt8(ascii: ":"))
            switch m[key]?.value {
            case .string(let s): string(s)
            case .int(let v): integer(v)
            case .double(let d): if d.isFinite { double(d) } else { string(String(d)) }
            case .bool(let b): bool(b)
            case nil: raw("null")
            }
        }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func floats(_ v: [Float]) {
        bytes.append(UInt8(ascii: "["))
        for (i, x) in v.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            float(x)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}

extension SearchResult {
    /// The answer as JSON (the same document `JSONEncoder` with sorted keys writes).
    var json: [UInt8] {
        var w = JSONWriter(capacity: 256 + results.count * 160)
        w.raw("{\"results\":")
        w.hits(results)
        w.raw(",\"took_ms\":")
        w.double(took_ms)
        w.raw("}")
        return w.bytes
    }
}

/// The answer of `POST .../search/batch`: one list of hits per search, in request order.
struct SearchBatchResult {
    var results: [[Hit]]
    var took_ms: Double

    var json: [UInt8] {
        var w = JSONWriter(capacity: 256 + results.reduce(0) { $0 + $1.count } * 160)
        w.raw("{\"results\":[")
        for (i, hits) in results.enumerated() {
            if i > 0 { w.raw(",") }
            w.hits(hits)
        }
        w.raw("],\"took_ms\":")
        w.double(took_ms)
        w.raw("}")
        return w.bytes
    }
}

extension JSONWriter {
    /// A list of hits, keys sorted.
    mutating func hits(_ results: [Hit]) {
        raw("[")
        for (i, hit) in results.enumerated() {
            if i > 0 { raw(",") }
            raw("{\"distance\":")
            float(hit.distance)
            raw(",\"id\":")
            integer(hit.id.value)
            raw(",\"metadata\":")
            metadata(hit.metadata)
            raw(",\"score\":")
            float(hit.score)
            if let vector = hit.vector {
                raw(",\"vector\":")
                floats(vector)
            }
            raw("}")
        }
        raw("]")
    }
}
