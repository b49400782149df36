// The --where shorthand of the filter language: `key=value`, `key!=value`, `key in a,b,c`,
// `key not in a,b`, `key<n`, `key<=n`, `key>n`, `key>=n` (numbers or dates).

extension Filter {
    /// A filter from `--where` conditions, all of which must hold (see ``FilterCondition/init(where:)``).
    ///
    /// ```swift
    /// let f = try Filter(where: ["taken_at>=2024-06-01", "camera=Pixel 8", "format in jpeg,png"])
    /// ```
    public init(where conditions: [String]) throws {
        self.init(must: try conditions.map { try FilterCondition(where: $0) })
    }
}

extension FilterCondition {
    /// Parses one `--where` condition. The text is split at the first operator in it, so the key
    /// never contains one (`caption=a<b` is key `caption`, value `a<b`):
    ///
    /// - `key=value`: equal (``FilterMatch/value(_:)``); `key!=value`: not equal (a vector
    ///   without the key counts as not equal)
    /// - `key in a,b,c`: equal to one of the values; `key not in a,b,c`: to none of them
    /// - `key<n`, `key<=n`, `key>n`, `key>=n`: a range; `n` is a number or a date / date-time
    ///   (`2024-06-01`, `2024-06-01T10:30:00`)
    ///
    /// Values are typed as they read: `true` / `false` are booleans, `2020` an integer, `0.5` a
    /// number, anything else a string; double quotes (`year="2020"`) keep a value a string.
    /// Spaces around the operator and the values are ignored.
    /// - Throws: ``VDBError/invalidFilter(_:)`` naming the problem and its column.
    public init(where text: String) throws {
        self = try FilterShorthand(text).parse()
    }
}

/// Parser of one shorthand condition.
struct FilterShorthand {
    enum Op: String, CaseIterable {
        case notEqual = "!=", lessOrEqual = "<=", greaterOrEqual = ">=", equal = "=", less = "<", greater = ">"
        case notIn = " not in ", isIn = " in "
    }

    let text: String
    let chars: [Character]

    init(_ text: String) {
        self.text = text
        chars = Array(text)
    }

    func fail(_ message: String, at column: Int) -> VDBError {
        .invalidFilter("--where '\(text)': \(message) (column \(column + 1))")
    }

    /// The first operator in the text and its position (at a position, the longest operator).
    func firstOperator() -> (op: Op, at: Int)? {
        let lower = chars.map { Character($0.lowercased()) }
        for i in 0..<chars.count {
            for op in Op.allCases {
                let o = Array(op.rawValue)
                if i + o.count <= chars.count && Array(lower[i..<(i + o.count)]) == o { return (op, i) }
                // "in" / "not in" also after spaces or tabs of any length.
                if op == .isIn || op == .notIn, chars[i] == " " || chars[i] == "\t" {
                    if let end = word(after: i, op == .isIn ? ["in"] : ["not", "in"], lower) { _ = end; return (op, i) }
                }
            }
        }
        return nil
    }

    /// The end of `words` separated by blanks, starting with blanks at `i` and followed by a
    /// blank, if the text has them there.
    func word(after i: Int, _ words: [String], _ lower: [Character]) -> Int? {
        var p = i
        for w in words {
            guard p < lower.count, lower[p] == " " || lower[p] == "\t" else { return nil }
            while p < lower.count && (lower[p] == " " || lower[p] == "\t") { p += 1 }
            let wc = Array(w)
            guard p + wc.count <= lower.count, Array(lower[p..<(p + wc.count)]) == wc else { return nil }
            p += wc.count
        }
        guard p < lower.count, lower[p] == " " || lower[p] == "\t" else { return nil }
        return p
    }

    func parse() throws -> FilterCondition {
        guard let (op, at) = firstOperator() else {
            throw VDBError.invalidFilter("--where '\(text)': no operator; use key=value, key!=value, key in a,b,c, key<n, key<=n, key>n or key>=n")
        }
        let key = String(chars[..<at]).trimmingBlanks()
        guard !key.isEmpty else { throw fail("no key before '\(op.rawValue.trimmingBlanks())'", at: at) }
        var valueStart = at + op.rawValue.count
        if op == .isIn || op == .notIn {
            let lower = chars.map { Character($0.lowercased()) }
            valueStart = word(after: at, op == .isIn ? ["in"] : ["not", "in"], lower) ?? valueStart
        }
        let rawValue = String(chars[min(valueStart, chars.count)...])
        switch op {
        case .equal: return .match(key: key, .value(typed(rawValue)))
        case .notEqual: return .filter(Filter(mustNot: [.match(key: key, .value(typed(rawValue)))]))
        case .isIn, .notIn:
            let items = try list(rawValue, at: valueStart)
            return op == .isIn ? .match(key: key, .any(items)) : .filter(Filter(mustNot: [.match(key: key, .any(items))]))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let v = rawValue.trimmingBlanks()
            guard !v.isEmpty else { throw fail("'\(op.rawValue)' needs a number or a date after it", at: valueStart) }
            let bound = typed(v)
            guard FilterRange.bound(bound) != nil, !isQuoted(v) || MetadataTime.seconds(unquoted(v)) != nil else {
                throw fail("'\(op.rawValue)' needs a number or a date like 2024-06-01, got '\(v)'", at: valueStart + leadingBlanks(rawValue))
            }
            switch op {
            case .less: return .range(key: key, try FilterRange(lt: bound))
            case .lessOrEqual: return .range(key: key, try FilterRange(lte: bound))
            case .greater: return .range(key: key, try FilterRange(gt: bound))
            default: return .range(key: key, try FilterRange(gte: bound))
            }
        }
    }

    /// Comma-separated values (quotes keep commas inside a value).
    func list(_ raw: String, at start: Int) throws -> [MetadataValue] {
        var items: [String] = []
        var current = "", quoted = false
        for c in raw {
            if c == "\"" { quoted.toggle() }
            if c == "," && !quoted { items.append(current); current = "" } else { current.append(c) }
        }
        if quoted { throw fail("unterminated quote in the list", at: start) }
        items.append(current)
        let values = items.map { $0.trimmingBlanks() }
        if values.allSatisfy(\.isEmpty) { throw fail("the list after 'in' is empty", at: start) }
        if let empty = values.firstIndex(where: \.isEmpty) { throw fail("item \(empty + 1) of the list is empty", at: start) }
        return values.map(typed)
    }

    func leadingBlanks(_ s: String) -> Int { s.prefix { $0 == " " || $0 == "\t" }.count }

    func isQuoted(_ s: String) -> Bool { s.count >= 2 && s.first == "\"" && s.last == "\"" }

    func unquoted(_ s: String) -> String { isQuoted(s) ? String(s.dropFirst().dropLast()) : s }

    /// A value typed as it reads (see ``FilterCondition/init(where:)``).
    func typed(_ raw: String) -> MetadataValue {
        let s = raw.trimmingBlanks()
        if isQuoted(s) { return .string(unquoted(s)) }
        if s == "true" { return .bool(true) }
        if s == "false" { return .bool(false) }
        if let i = Int64(s) { return .int(i) }
        if let d = Double(s), d.isFinite, s.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true {
            return .double(d)
        }
        return .string(s)
    }
}

extension String {
    func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
