// The one filter language of vdb: this type for the library, its JSON form (Qdrant style) for
// the CLI's --filter and the HTTP API, and the --where shorthand (FilterShorthand.swift).

/// A condition on metadata that a search applies while it searches: only vectors that satisfy it
/// are returned, and `k` of them come back whenever at least `k` exist.
///
/// The JSON form follows Qdrant's:
///
/// ```json
/// {"must": [{"key": "lang", "match": {"value": "en"}},
///           {"key": "taken_at", "range": {"gte": "2024-06-01", "lt": "2024-07-01"}}],
///  "should": [{"key": "camera", "match": {"any": ["Pixel 7", "Pixel 8"]}}],
///  "must_not": [{"is_null": {"key": "gps_lat"}}]}
/// ```
///
/// A vector satisfies a filter when it satisfies every `must` condition, at least one `should`
/// condition (if there are any) and no `must_not` condition. Conditions:
///
/// - `{"key": K, "match": {"value": V}}`: the value of `K` equals `V`. Values match by their text
///   (`5`, `5.0` and `"5"` are equal; `true` and `"true"` too); on an indexed `int`, `float` or
///   `time` field they match by the field's type (`"2024-06-01"` equals `"2024-06-01T00:00:00Z"`).
/// - `{"key": K, "match": {"any": [V, ...]}}`: equals one of the values;
///   `{"key": K, "match": {"except": [V, ...]}}`: has a value that equals none of them.
/// - `{"key": K, "range": {"gt": X, "gte": X, "lt": X, "lte": X}}` (one or more bounds): numbers,
///   or dates and date-times (see ``MetadataTime``); a stored string is compared as a time.
/// - `{"is_null": {"key": K}}`: the vector has no value for `K`.
/// - a nested filter object (`{"should": [...]}`) as a condition.
///
/// A vector without the key fails `match`, `range` and `except`, and so satisfies a `must_not` of them.
/// Keys declared as indexed fields (``FieldDefinition``) are answered from the metadata index;
/// other keys by reading the metadata of every vector.
public struct Filter: Sendable, Hashable {
    /// Conditions that must all hold.
    public var must: [FilterCondition]
    /// Conditions of which at least one must hold (when there are any).
    public var should: [FilterCondition]
    /// Conditions none of which may hold.
    public var mustNot: [FilterCondition]

    public init(must: [FilterCondition] = [], should: [FilterCondition] = [], mustNot: [FilterCondition] = []) {
        self.must = must
        self.should = should
        self.mustNot = mustNot
    }

    /// Whether the filter has no condition (it admits every vector).
    public var isEmpty: Bool { must.isEmpty && should.isEmpty && mustNot.isEmpty }

    /// The conjunction of two filters (every condition of both).
    public func and(_ other: Filter) -> Filter {
        if isEmpty { return other }
        if other.isEmpty { return self }
        return Filter(must: [.filter(self), .filter(other)])
    }

    /// Whether `metadata` satisfies the filter. `fields` are the collection's indexed fields,
    /// whose values compare by their type (as the metadata index compares them).
    public func matches(_ metadata: Metadata, fields: [FieldDefinition] = []) -> Bool {
        let types = Dictionary(fields.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        return matches(metadata, types)
    }

    func matches(_ metadata: Metadata, _ types: [String: FieldType]) -> Bool {
        if !must.allSatisfy({ $0.matches(metadata, types) }) { return false }
        if !should.isEmpty && !should.contains(where: { $0.matches(metadata, types) }) { return false }
        return !mustNot.contains { $0.matches(metadata, types) }
    }
}

/// One condition of a ``Filter``.
public indirect enum FilterCondition: Sendable, Hashable {
    /// The value of `key` matches (see ``FilterMatch``).
    case match(key: String, FilterMatch)
    /// The value of `key` is in the range.
    case range(key: String, FilterRange)
    /// The vector has no value for `key`.
    case isNull(key: String)
    /// A nested filter.
    case filter(Filter)

    /// `key` equals `value`.
    public static func equals(_ key: String, _ value: MetadataValue) -> FilterCondition { .match(key: key, .value(value)) }

    func matches(_ m: Metadata, _ types: [String: FieldType]) -> Bool {
        switch self {
        case let .match(key, match):
            guard let v = m[key] else { return false }
            return match.matches(v, types[key])
        case let .range(key, range):
            guard let v = m[key], let x = FilterRange.number(v, types[key]) else { return false }
            return range.numeric.contains(x)
        case let .isNull(key):
            return m[key] == nil
        case let .filter(f):
            return f.matches(m, types)
        }
    }
}

/// What a `match` condition compares a value with.
public enum FilterMatch: Sendable, Hashable {
    /// Equal to the value.
    case value(MetadataValue)
    /// Equal to one of the values.
    case any([MetadataValue])
    /// Equal to none of the values (a vector without the key does not match).
    case except([MetadataValue])

    /// The values compared with.
    var values: [MetadataValue] {
        switch self {
        case .value(let v): return [v]
        case .any(let vs), .except(let vs): return vs
        }
    }

    func matches(_ v: MetadataValue, _ type: FieldType?) -> Bool {
        let hit: Bool
        if let type, type != .keyword {
            guard case .success(let stored) = type.indexed(v) else { return false }
            hit = values.contains { type.comparable($0) == stored }
        } else {
            hit = values.contains { FilterValues.equal(v, $0) }
        }
        if case .except = self { return !hit }
        return hit
    }
}

/// The bounds of a `range` condition: numbers, or dates and date-times as strings (see
/// ``MetadataTime``). At least one bound is set.
public struct FilterRange: Sendable, Hashable {
    public var gt: MetadataValue?
    public var gte: MetadataValue?
    public var lt: MetadataValue?
    public var lte: MetadataValue?

    /// - Throws: ``VDBError/invalidFilter(_:)`` when no bound is given or a bound is neither a
    ///   number nor a date.
    public init(gt: MetadataValue? = nil, gte: MetadataValue? = nil, lt: MetadataValue? = nil, lte: MetadataValue? = nil) throws {
        self.gt = gt
        self.gte = gte
        self.lt = lt
        self.lte = lte
        if gt == nil && gte == nil && lt == nil && lte == nil {
            throw VDBError.invalidFilter("a range needs at least one of gt, gte, lt, lte")
        }
        for (name, bound) in [("gt", gt), ("gte", gte), ("lt", lt), ("lte", lte)] {
            if let bound, FilterRange.bound(bound) == nil {
                throw VDBError.invalidFilter("range bound \(name) must be a number or a date like 2024-06-01 (got \(FilterJSON.describe(bound)))")
            }
        }
    }

    /// The bounds as one numeric interval (the tighter bound wins when both of a side are given).
    var numeric: NumericRange {
        var r = NumericRange()
        if let x = gte.flatMap(FilterRange.bound) { r.lower = x; r.lowerInclusive = true }
        if let x = gt.flatMap(FilterRange.bound), x >= r.lower { r.lower = x; r.lowerInclusive = false }
        if let x = lte.flatMap(FilterRange.bound) { r.upper = x; r.upperInclusive = true }
        if let x = lt.flatMap(FilterRange.bound), x <= r.upper { r.upper = x; r.upperInclusive = false }
        return r
    }

    /// A bound as a number (dates as seconds since 1970 UTC).
    static func bound(_ v: MetadataValue) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d.isNaN ? nil : d
        case .string(let s): return MetadataTime.seconds(s)
        case .bool: return nil
        }
    }

    /// A stored value as a number for range comparison: numbers as they are, strings as times;
    /// on an indexed numeric field, the field's conversion.
    static func number(_ v: MetadataValue, _ type: FieldType?) -> Double? {
        if let type, type != .keyword {
            guard case .success(let stored) = type.indexed(v) else { return nil }
            switch stored {
            case .int(let i): return Double(i)
            case .double(let d): return d
            case .keyword: return nil
            }
        }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string(let s): return MetadataTime.seconds(s)
        case .bool: return nil
        }
    }
}
