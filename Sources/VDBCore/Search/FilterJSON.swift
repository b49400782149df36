// The JSON form of `Filter` (Qdrant style): `Codable` for servers that decode it from a request,
// and `Filter(json:)` for the CLI's --filter. Errors name the path of the offending part
// (`filter.must[1].range.gte`) and what was found there.

import Foundation

extension Filter: Codable {
    /// Decodes the JSON form (see ``Filter``); a malformed filter throws
    /// `DecodingError.dataCorrupted` whose description names the offending part.
    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        do {
            self = try FilterJSON.filter(value, path: "filter")
        } catch let error as VDBError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try FilterJSON.value(self).encode(to: encoder)
    }

    /// Parses the JSON form of a filter.
    /// - Throws: ``VDBError/invalidFilter(_:)`` naming the offending part, e.g.
    ///   `filter.must[1].range.gte: expected a number or a date like 2024-06-01, got true`.
    public init(json text: String) throws {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw VDBError.invalidFilter("the filter is not valid JSON: \(FilterJSON.syntaxProblem(error))")
        }
        self = try FilterJSON.filter(value, path: "filter")
    }

    /// The JSON form, compact with sorted keys.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// A JSON value, keeping integers apart from other numbers.
enum JSONValue: Codable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        if var a = try? decoder.unkeyedContainer() {
            var out: [JSONValue] = []
            while !a.isAtEnd { out.append(try a.decode(JSONValue.self)) }
            self = .array(out)
            return
        }
        if let o = try? decoder.container(keyedBy: AnyKey.self) {
            var out: [String: JSONValue] = [:]
            for key in o.allKeys { out[key.stringValue] = try o.decode(JSONValue.self, forKey: key) }
            self = .object(out)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else { self = .string(try c.decode(String.self)) }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .null: var c = encoder.singleValueContainer(); try c.encodeNil()
        case .bool(let b): var c = encoder.singleValueContainer(); try c.encode(b)
        case .int(let i): var c = encoder.singleValueContainer(); try c.encode(i)
        case .double(let d): var c = encoder.singleValueContainer(); try c.encode(d)
        case .string(let s): var c = encoder.singleValueContainer(); try c.encode(s)
        case .array(let a):
            var c = encoder.unkeyedContainer()
            for v in a { try c.encode(v) }
        case .object(let o):
            var c = encoder.container(keyedBy: AnyKey.self)
            for (k, v) in o { try c.encode(v, forKey: AnyKey(k)) }
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}

/// Conversion between `Filter` and its JSON form.
enum FilterJSON {
    static func filter(_ v: JSONValue, path: String) throws -> Filter {
        guard case .object(let o) = v else { throw problem(path, "expected an object with must, should or must_not", v) }
        let allowed: Set<String> = ["must", "should", "must_not"]
        if let unknown = o.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw VDBError.invalidFilter("\(path): unknown key '\(unknown)' (a filter has must, should and must_not)")
        }
        func list(_ name: String) throws -> [FilterCondition] {
            switch o[name] {
            case nil, .null?: return []
            case .array(let items)?: return try items.enumerated().map { try condition($1, path: "\(path).\(name)[\($0)]") }
            case let one?: return [try condition(one, path: "\(path).\(name)")]
            }
        }
        return Filter(must: try list("must"), should: try list("should"), mustNot: try list("must_not"))
    }

    static func condition(_ v: JSONValue, path: String) throws -> FilterCondition {
        guard case .object(let o) = v else { throw problem(path, "expected a condition object", v) }
        if o["must"] != nil || o["should"] != nil || o["must_not"] != nil {
            return .filter(try filter(v, path: path))
        }
        if let n = o["is_null"] ?? o["is_empty"] {
            let name = o["is_null"] != nil ? "is_null" : "is_empty"
            switch n {
            case .object(let inner):
                guard case .string(let key)? = inner["key"] else { throw problem("\(path).\(name).key", "expected the key as a string", inner["key"] ?? .null) }
                return .isNull(key: key)
            case .string(let key): return .isNull(key: key)
            default: throw problem("\(path).\(name)", "expected {\"key\": ...}", n)
            }
        }
        guard let keyValue = o["key"] else {
            throw VDBError.invalidFilter("\(path): expected a condition: {\"key\": ..., \"match\": ...}, {\"key\": ..., \"range\": ...}, {\"is_null\": {\"key\": ...}} or a nested filter (keys found: \(o.keys.sorted().joined(separator: ", ")))")
        }
        guard case .string(let key) = keyValue, !key.isEmpty else { throw problem("\(path).key", "expected a non-empty string", keyValue) }
        let known: Set<String> = ["key", "match", "range", "datetime_range"]
        if let unknown = o.keys.sorted().first(where: { !known.contains($0) }) {
            throw VDBError.invalidFilter("\(path): unknown key '\(unknown)' (a field condition has key and one of match, range)")
        }
        let rangeName = o["range"] != nil ? "range" : "datetime_range"
        switch (o["match"], o["range"] ?? o["datetime_range"]) {
        case (let m?, nil): return .match(key: key, try match(m, path: "\(path).match"))
        case (nil, let r?): return .range(key: key, try range(r, path: "\(path).\(rangeName)"))
        case (nil, nil): throw VDBError.invalidFilter("\(path): condition on '\(key)' needs match or range")
        case (_?, _?): throw VDBError.invalidFilter("\(path): condition on '\(key)' has both match and range; use two conditions")
        }
    }

    static func match(_ v: JSONValue, path: String) throws -> FilterMatch {
        guard case .object(let o) = v, o.count == 1, let (name, inner) = o.first else {
            throw problem(path, "expected one of {\"value\": V}, {\"any\": [V, ...]}, {\"except\": [V, ...]}", v)
        }
        switch name {
        case "value": return .value(try scalar(inner, path: "\(path).value"))
        case "any", "except":
            guard case .array(let items) = inner else { throw problem("\(path).\(name)", "expected a list of values", inner) }
            let values = try items.enumerated().map { try scalar($1, path: "\(path).\(name)[\($0)]") }
            return name == "any" ? .any(values) : .except(values)
        case "text":
            throw VDBError.invalidFilter("\(path): full-text match is not supported; use value, any or except")
        default:
            throw VDBError.invalidFilter("\(path): unknown match '\(name)' (use value, any or except)")
        }
    }

    static func range(_ v: JSONValue, path: String) throws -> FilterRange {
        guard case .object(let o) = v else { throw problem(path, "expected an object with gt, gte, lt or lte", v) }
        let names = ["gt", "gte", "lt", "lte"]
        if let unknown = o.keys.sorted().first(where: { !names.contains($0) }) {
            throw VDBError.invalidFilter("\(path): unknown bound '\(unknown)' (use gt, gte, lt, lte)")
        }
        var bounds: [String: MetadataValue] = [:]
        for name in names {
            guard let b = o[name], b != .null else { continue }
            let value = try scalar(b, path: "\(path).\(name)")
            guard FilterRange.bound(value) != nil else {
                throw problem("\(path).\(name)", "expected a number or a date like 2024-06-01", b)
            }
            bounds[name] = value
        }
        guard !bounds.isEmpty else { throw VDBError.invalidFilter("\(path): give at least one of gt, gte, lt, lte") }
        return try FilterRange(gt: bounds["gt"], gte: bounds["gte"], lt: bounds["lt"], lte: bounds["lte"])
    }

    static func scalar(_ v: JSONValue, path: String) throws -> MetadataValue {
        switch v {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .bool(let b): return .bool(b)
        default: throw problem(path, "expected a string, number or boolean", v)
        }
    }

    static func problem(_ path: String, _ expected: String, _ got: JSONValue) -> VDBError {
        .invalidFilter("\(path): \(expected), got \(describe(got))")
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "\"\(s)\""
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    static func describe(_ v: MetadataValue) -> String {
        if case .string(let s) = v { return "\"\(s)\"" }
        return v.description
    }

    /// The most specific message a JSON syntax error carries (Foundation puts the position in
    /// the underlying error).
    static func syntaxProblem(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            if let underlying = context.underlyingError {
                let text = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(underlying)"
                return text
            }
            return context.debugDescription
        }
        return "\(error)"
    }

    // MARK: encoding

    static func value(_ f: Filter) -> JSONValue {
        var o: [String: JSONValue] = [:]
        if !f.must.isEmpty { o["must"] = .array(f.must.map(value)) }
        if !f.should.isEmpty { o["should"] = .array(f.should.map(value)) }
        if !f.mustNot.isEmpty { o["must_not"] = .array(f.mustNot.map(value)) }
        return .object(o)
    }

    static func value(_ c: FilterCondition) -> JSONValue {
        switch c {
        case let .match(key, m):
            let inner: JSONValue
            switch m {
            case .value(let v): inner = .object(["value": value(v)])
            case .any(let vs): inner = .object(["any": .array(vs.map(value))])
            case .except(let vs): inner = .object(["except": .array(vs.map(value))])
            }
            return .object(["key": .string(key), "match": inner])
        case let .range(key, r):
            var o: [String: JSONValue] = [:]
            if let b = r.gt { o["gt"] = value(b) }
            if let b = r.gte { o["gte"] = value(b) }
            if let b = r.lt { o["lt"] = value(b) }
            if let b = r.lte { o["lte"] = value(b) }
            return .object(["key": .string(key), "range": .object(o)])
        case let .isNull(key):
            return .object(["is_null": .object(["key": .string(key)])])
        case let .filter(f):
            return value(f)
        }
    }

    static func value(_ v: MetadataValue) -> JSONValue {
        switch v {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .bool(let b): return .bool(b)
        }
    }
}
