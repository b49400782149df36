import VDBCore

/// The `filter` field of search and scroll requests, turned into the library's
/// ``MetadataCondition``s (all must hold).
///
/// Accepted forms today:
/// - a string in `vdb search --where` syntax: `"format=png"`, `"width>=1000"`;
/// - an array of such strings: `["format=png", "width>=1000"]`;
/// - an object in the style of Qdrant's filter, for the subset the conditions express:
///   `{"must": [{"key": "format", "match": {"value": "png"}}, {"key": "width", "range": {"gte": 1000}}],
///     "must_not": [{"key": "caption", "match": {"value": ""}}]}`.
///
/// The object form is where the full JSON filter language (`should`, `any`, `is_null`, ...)
/// will arrive; until the library has it, other keys are refused with 422 naming them.
struct FilterSpec: Decodable, Sendable {
    var conditions: [MetadataCondition]

    init(conditions: [MetadataCondition]) { self.conditions = conditions }

    init(from decoder: any Decoder) throws {
        if let c = try? decoder.singleValueContainer(), let text = try? c.decode(String.self) {
            conditions = try FilterSpec.parse([text])
        } else if let c = try? decoder.singleValueContainer(), let texts = try? c.decode([String].self) {
            conditions = try FilterSpec.parse(texts)
        } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
            conditions = try FilterSpec.parse(object)
        } else {
            throw ServerError.invalidFilter("'filter' must be a condition string such as \"format=png\", an array of them, or an object {\"must\": [...]}")
        }
    }

    /// The library filter, or nil when there is no condition.
    var searchFilter: SearchFilter? { MetadataCondition.filter(conditions) }

    /// Parses `--where`-style conditions; a bad one is a 422 naming it.
    static func parse(_ texts: [String]) throws -> [MetadataCondition] {
        do {
            return try texts.map { try MetadataCondition(parsing: $0) }
        } catch let e as VDBError {
            throw ServerError.invalidFilter(e.description)
        }
    }

    private static func parse(_ object: KeyedDecodingContainer<AnyKey>) throws -> [MetadataCondition] {
        var out: [MetadataCondition] = []
        for key in object.allKeys {
            switch key.stringValue {
            case "must", "must_not":
                let negate = key.stringValue == "must_not"
                guard let clauses = try? object.decode([Clause].self, forKey: key) else {
                    throw ServerError.invalidFilter("filter.\(key.stringValue) must be an array of {\"key\": ..., \"match\": {\"value\": ...}} or {\"key\": ..., \"range\": {...}}")
                }
                for clause in clauses { out += try clause.conditions(negate: negate, in: key.stringValue) }
            default:
                throw ServerError.invalidFilter("filter.\(key.stringValue) is not supported yet: use \"must\" and \"must_not\" with \"match\" or \"range\" (or --where strings)")
            }
        }
        return out
    }

    /// One Qdrant-style field condition.
    private struct Clause: Decodable {
        struct Match: Decodable { var value: JSONMetadataValue }
        struct Range: Decodable { var gt: Double?; var gte: Double?; var lt: Double?; var lte: Double? }
        var key: String
        var match: Match?
        var range: Range?

        func conditions(negate: Bool, in part: String) throws -> [MetadataCondition] {
            if let match, range == nil {
                return [MetadataCondition(key: key, op: negate ? .notEqual : .equal, value: match.value.value.description)]
            }
            if let range, match == nil, !negate {
                let bounds: [(Double?, MetadataCondition.Operator)] =
                    [(range.gt, .greater), (range.gte, .greaterOrEqual), (range.lt, .less), (range.lte, .lessOrEqual)]
                let out = bounds.compactMap { b, op in b.map { MetadataCondition(key: key, op: op, value: String($0)) } }
                if out.isEmpty { throw ServerError.invalidFilter("filter.\(part): range on '\(key)' has none of gt, gte, lt, lte") }
                return out
            }
            throw ServerError.invalidFilter("filter.\(part): the condition on '\(key)' needs exactly one of \"match\" and \"range\""
                + (negate ? " (must_not takes match only, for now)" : ""))
        }
    }
}

/// A coding key for any string.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
