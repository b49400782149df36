/// A condition on metadata, parsed from text such as `format=png`, `width>=1000`, `caption!=`,
/// used by `vdb search --where` and usable from Swift as a ``SearchFilter``.
///
/// Comparisons: `=` and `!=` compare as numbers when both sides are numbers, else as strings
/// (booleans as `true`/`false`); `<`, `<=`, `>`, `>=` need numbers. A vector without the key
/// fails every comparison except `!=`.
public struct MetadataCondition: Sendable, Hashable, CustomStringConvertible {
    public enum Operator: String, Sendable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
    }

    public var key: String
    public var op: Operator
    public var value: String

    public var description: String { key + op.rawValue + value }

    public init(key: String, op: Operator, value: String) {
        self.key = key
        self.op = op
        self.value = value
    }

    /// Parses `key<op>value`. - Throws: ``VDBError/invalidArgument(_:)`` naming the problem.
    public init(parsing text: String) throws {
        // Longest operators first so "<=" is not read as "<".
        for op in [Operator.notEqual, .lessOrEqual, .greaterOrEqual, .equal, .less, .greater] {
            if let r = text.range(of: op.rawValue) {
                let key = text[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                let value = String(text[r.upperBound...]).trimmingCharacters(in: .whitespaces)
                guard !key.isEmpty else { throw VDBError.invalidArgument("filter '\(text)' has no key before '\(op.rawValue)'") }
                if [.less, .lessOrEqual, .greater, .greaterOrEqual].contains(op), Double(value) == nil {
                    throw VDBError.invalidArgument("filter '\(text)': '\(op.rawValue)' needs a number, got '\(value)'")
                }
                self.init(key: key, op: op, value: value)
                return
            }
        }
        throw VDBError.invalidArgument("filter '\(text)' needs an operator: =, !=, <, <=, >, >= (e.g. format=png or width>=1000)")
    }

    /// Whether `metadata` satisfies the condition.
    public func matches(_ metadata: Metadata) -> Bool {
        guard let v = metadata[key] else { return op == .notEqual }
        let number: Double? = {
            switch v {
            case .int(let i): return Double(i)
            case .double(let d): return d
            default: return nil
            }
        }()
        let target = Double(value)
        switch op {
        case .equal, .notEqual:
            let same: Bool
            if let number, let target { same = number == target } else {
                switch v {
                case .string(let s): same = s == value
                case .bool(let b): same = (b ? "true" : "false") == value.lowercased()
                default: same = v.description == value
                }
            }
            return op == .equal ? same : !same
        case .less: return number.map { $0 < (target ?? .nan) } ?? false
        case .lessOrEqual: return number.map { $0 <= (target ?? .nan) } ?? false
        case .greater: return number.map { $0 > (target ?? .nan) } ?? false
        case .greaterOrEqual: return number.map { $0 >= (target ?? .nan) } ?? false
        }
    }

    /// A search filter admitting the vectors that satisfy every condition (nil for none).
    public static func filter(_ conditions: [MetadataCondition]) -> SearchFilter? {
        if conditions.isEmpty { return nil }
        return { _, metadata in conditions.allSatisfy { $0.matches(metadata) } }
    }
}
