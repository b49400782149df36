import VDBCore

/// The `filter` field of search and scroll requests, in vdb's one filter language (``Filter``):
///
/// - a string in `vdb search --where` syntax: `"format=png"`, `"width>=1000"`, `"lang in en,fr"`;
/// - an array of such strings (all must hold): `["format=png", "width>=1000"]`;
/// - the JSON form (Qdrant's): `{"must": [{"key": "format", "match": {"value": "png"}}],
///   "should": [...], "must_not": [{"is_null": {"key": "caption"}}]}` with `match` (`value`, `any`,
///   `except`), `range` (`gt`, `gte`, `lt`, `lte`: numbers or dates) and `is_null`.
///
/// A filter that does not parse is a 422 `invalid_filter` naming the part.
struct FilterSpec: Decodable, Sendable {
    var filter: Filter

    init(filter: Filter) { self.filter = filter }

    init(from decoder: any Decoder) throws {
        if let c = try? decoder.singleValueContainer(), let text = try? c.decode(String.self) {
            filter = try FilterSpec.parse([text])
        } else if let c = try? decoder.singleValueContainer(), let texts = try? c.decode([String].self) {
            filter = try FilterSpec.parse(texts)
        } else if (try? decoder.container(keyedBy: AnyKey.self)) != nil {
            do { filter = try Filter(from: decoder) } catch DecodingError.dataCorrupted(let context) {
                throw ServerError.invalidFilter(context.debugDescription)
            }
        } else {
            throw ServerError.invalidFilter("'filter' must be a condition string such as \"format=png\", an array of them, or an object {\"must\": [...]}")
        }
    }

    /// Parses `--where`-style conditions (all must hold); a bad one is a 422 naming it.
    static func parse(_ texts: [String]) throws -> Filter {
        do { return try Filter(where: texts) } catch let e as VDBError { throw ServerError.invalidFilter(e.description) }
    }

    /// The filter as a predicate on (id, metadata), for the library calls that take one
    /// (scroll, find-similar); values of `collection`'s indexed fields compare by their type.
    func predicate(for collection: Collection) throws -> SearchFilter {
        let fields = try collection.fields()
        let filter = self.filter
        return { _, metadata in filter.matches(metadata, fields: fields) }
    }
}

/// A coding key for any string.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
