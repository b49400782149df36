/// An order on search hits by a metadata field, for listing results by date or size instead of
/// by distance (`vdb search --sort taken_at`).
public struct HitOrder: Sendable, Hashable, CustomStringConvertible {
    /// The metadata key.
    public var field: String
    public var descending: Bool

    public init(field: String, descending: Bool = false) {
        self.field = field
        self.descending = descending
    }

    /// Parses `field`, `field:asc` or `field:desc`.
    /// - Throws: ``VDBError/invalidArgument(_:)`` for an empty field or another direction.
    public init(parsing text: String) throws {
        var field = text, descending = false
        if let colon = text.lastIndex(of: ":") {
            let direction = text[text.index(after: colon)...].lowercased()
            if direction == "desc" || direction == "asc" {
                field = String(text[..<colon])
                descending = direction == "desc"
            }
        }
        guard !field.isEmpty else { throw VDBError.invalidArgument("sort order '\(text)' needs a field, e.g. taken_at or taken_at:desc") }
        self.init(field: field, descending: descending)
    }

    public var description: String { field + (descending ? ":desc" : "") }

    /// `hits` ordered by the field: numbers and times (date strings) by value, other strings by
    /// text, hits without the field last; equal values keep their order (by distance).
    public func sorted(_ hits: [SearchHit]) -> [SearchHit] {
        enum Key: Comparable {
            case number(Double)
            case text(String)
        }
        func key(_ h: SearchHit) -> Key? {
            switch h.metadata[field] {
            case nil: return nil
            case .int(let i)?: return .number(Double(i))
            case .double(let d)?: return d.isNaN ? nil : .number(d)
            case .bool(let b)?: return .number(b ? 1 : 0)
            case .string(let s)?: return MetadataTime.seconds(s).map(Key.number) ?? .text(s)
            }
        }
        let keyed = hits.enumerated().map { (key: key($1), position: $0, hit: $1) }
        return keyed.sorted { a, b in
            switch (a.key, b.key) {
            case let (x?, y?) where x != y: return descending ? x > y : x < y
            case (nil, _?): return false
            case (_?, nil): return true
            default: return a.position < b.position
            }
        }.map(\.hit)
    }
}
