// Typed, indexed metadata fields: the declarations a collection carries (its field schema), the
// conversion of metadata values to a field's type, and the public API to declare, list and drop
// fields. The index itself is in MetadataIndex.swift; its on-disk records in MetadataIndexCodec.swift.

import Foundation

/// The type of an indexed metadata field.
public enum FieldType: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Exact values (strings, integers, booleans, by their text): `lang`, `camera`, `format`.
    /// Indexed as value -> set of vectors; answers `match` (value, any, except) and `is_null`.
    case keyword
    /// 64-bit integers (an integral floating-point value is accepted): `year`, `width`.
    /// Answers `range` and `match`.
    case int
    /// Numbers (integers or floating point; stored as doubles): `score`, `gps_lat`.
    case float
    /// Points in time: a date or date-time string (`2024-06-01`, `2024-06-01T10:30:00`,
    /// `2024-06-01 10:30:00+02:00`, EXIF's `2024:06:01 10:30:00`; without a zone it is taken as
    /// UTC) or a number of seconds since 1970-01-01 UTC. Answers `range` and `match`.
    case time

    public var description: String { rawValue }
}

/// An indexed metadata field of a collection: a metadata key and its type.
public struct FieldDefinition: Sendable, Codable, Hashable, CustomStringConvertible {
    /// The metadata key (1-200 bytes of UTF-8).
    public var name: String
    public var type: FieldType

    public init(name: String, type: FieldType) {
        self.name = name
        self.type = type
    }

    /// Parses `name:type` (as `vdb create --field lang:keyword` takes it).
    /// - Throws: ``VDBError/invalidArgument(_:)`` naming the problem.
    public init(parsing text: String) throws {
        guard let colon = text.lastIndex(of: ":") else {
            throw VDBError.invalidArgument("field '\(text)' needs a type: NAME:TYPE with TYPE one of \(FieldType.allCases.map(\.rawValue).joined(separator: ", ")) (e.g. lang:keyword)")
        }
        let name = String(text[..<colon]), typeName = String(text[text.index(after: colon)...])
        guard let type = FieldType(rawValue: typeName.lowercased()) else {
            throw VDBError.invalidArgument("field '\(text)': unknown type '\(typeName)' (use \(FieldType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.init(name: name, type: type)
        try validate()
    }

    public var description: String { "\(name):\(type)" }

    func validate() throws {
        guard !name.isEmpty, name.utf8.count <= 200 else {
            throw VDBError.invalidArgument("field names must be 1 to 200 bytes (got '\(name)')")
        }
    }
}

/// A declared field with the number that keys its index records.
struct IndexedField: Sendable, Codable, Hashable {
    var name: String
    var type: FieldType
    /// Key of the field's records in the `fields` DBI (never reused within a collection).
    var number: UInt16

    var definition: FieldDefinition { FieldDefinition(name: name, type: type) }
}

/// The indexed fields of one collection, as stored (see `MetadataIndexCodec.schema`).
struct FieldSchema: Sendable, Hashable {
    var fields: [IndexedField] = []
    /// The number the next declared field gets.
    var nextNumber: UInt16 = 0

    var isEmpty: Bool { fields.isEmpty }

    func field(named name: String) -> IndexedField? { fields.first { $0.name == name } }
}

extension FieldSchema {
    /// A schema with `definitions`, checked (valid names, none twice).
    init(declaring definitions: [FieldDefinition]) throws {
        self.init()
        try declare(definitions)
    }

    /// Declares the fields not declared yet and returns them; a field declared with the same
    /// type is left as it is, with another type refused.
    @discardableResult
    mutating func declare(_ definitions: [FieldDefinition]) throws -> [IndexedField] {
        var seen = Set<String>()
        for d in definitions {
            try d.validate()
            if !seen.insert(d.name).inserted { throw VDBError.invalidArgument("field '\(d.name)' is declared twice") }
        }
        var added: [IndexedField] = []
        for d in definitions {
            if let existing = field(named: d.name) {
                guard existing.type == d.type else {
                    throw VDBError.invalidArgument("field '\(d.name)' is already declared as \(existing.type); drop it first to change its type")
                }
                continue
            }
            guard nextNumber < UInt16.max else { throw VDBError.invalidArgument("too many fields declared") }
            let f = IndexedField(name: d.name, type: d.type, number: nextNumber)
            nextNumber += 1
            fields.append(f)
            added.append(f)
        }
        return added
    }
}

/// A metadata value converted to its field's type, as the index stores it.
enum IndexedValue: Equatable {
    /// A keyword's canonical text (UTF-8).
    case keyword([UInt8])
    case int(Int64)
    /// Floats and times (seconds since 1970 UTC).
    case double(Double)
}

/// Longest keyword value the index stores (keys are at most 511 bytes in LMDB).
let maxKeywordBytes = 255

extension FieldType {
    /// `value` converted for a field of this type on write, or a one-line reason why it does not fit.
    func indexed(_ value: MetadataValue) -> Result<IndexedValue, FieldValueError> {
        switch self {
        case .keyword:
            let text = Array(FilterValues.canonicalText(value).utf8)
            guard text.count <= maxKeywordBytes else { return .failure(.init("is longer than \(maxKeywordBytes) bytes")) }
            return .success(.keyword(text))
        case .int:
            switch value {
            case .int(let i): return .success(.int(i))
            case .double(let d):
                if let i = FilterValues.exactInt(d) { return .success(.int(i)) }
                return .failure(.init("is not an integer"))
            default: return .failure(.init("is not an integer"))
            }
        case .float:
            switch value {
            case .int(let i): return .success(.double(Double(i)))
            case .double(let d):
                guard d.isFinite else { return .failure(.init("is not a finite number")) }
                return .success(.double(d))
            default: return .failure(.init("is not a number"))
            }
        case .time:
            if let t = FilterValues.seconds(value), t.isFinite { return .success(.double(t)) }
            return .failure(.init("is not a time (a date like 2024-06-01, a date-time like 2024-06-01T10:30:00, or seconds since 1970)"))
        }
    }

    /// `value` converted for comparison with values of a field of this type (query side: a
    /// keyword or number given as text is read as the field's type), or nil when no value of the
    /// field can equal it.
    func comparable(_ value: MetadataValue) -> IndexedValue? {
        switch self {
        case .keyword:
            return .keyword(Array(FilterValues.canonicalText(value).utf8))
        case .int:
            if case .string(let s) = value, let i = Int64(s.trimmingCharacters(in: .whitespaces)) { return .int(i) }
            if case .success(let v) = indexed(value) { return v }
            return nil
        case .float:
            if case .string(let s) = value, let d = Double(s.trimmingCharacters(in: .whitespaces)), d.isFinite { return .double(d) }
            if case .success(let v) = indexed(value) { return v }
            return nil
        case .time:
            if case .success(let v) = indexed(value) { return v }
            return nil
        }
    }
}

/// Why a metadata value does not fit a field's type.
struct FieldValueError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

// MARK: - public API

extension Collection {
    /// The indexed metadata fields, in declaration order.
    public func fields() throws -> [FieldDefinition] {
        try env.read { txn in
            _ = try state(txn)
            return try schema(txn).fields.map(\.definition)
        }
    }

    /// Declares indexed metadata fields and indexes the vectors already stored, in one
    /// transaction. From then on every insert, upsert and delete keeps the index current in its
    /// own transaction, and a write whose metadata value does not fit a field's type is refused.
    /// Declaring a field that exists with the same type does nothing.
    ///
    /// - Throws: ``VDBError/invalidArgument(_:)`` when a field exists with another type, a name is
    ///   invalid, or a stored value does not fit (the message names the vector and the value).
    public func addFields(_ definitions: [FieldDefinition]) throws {
        try env.writeSession { session in
            let w = try session.enter(self)
            let txn = session.txn
            var schema = w.schema
            let added = try schema.declare(definitions)
            if added.isEmpty { return }
            try MetadataIndex.build(added, collection: self, txn: txn)
            try txn.put(txn.dbis.state, Keys.fieldSchema(cid), MetadataIndexCodec.encode(schema))
            w.schema = schema
            try w.save(txn)
        }
    }

    /// Removes an indexed field and its index records (the metadata itself stays, and stays
    /// filterable by scan). Returns whether the field was declared.
    @discardableResult
    public func dropField(named field: String) throws -> Bool {
        try env.writeSession { session in
            let w = try session.enter(self)
            let txn = session.txn
            var schema = w.schema
            guard let f = schema.field(named: field) else { return false }
            schema.fields.removeAll { $0.name == field }
            try txn.deleteAll(txn.dbis.fields, prefix: MetadataIndexCodec.fieldPrefix(cid, f.number))
            try txn.put(txn.dbis.state, Keys.fieldSchema(cid), MetadataIndexCodec.encode(schema))
            w.schema = schema
            try w.save(txn)
            return true
        }
    }

    /// The field schema of snapshot `txn` (decoded once per stored value).
    func schema(_ txn: ReadTxn) throws -> FieldSchema {
        guard let raw = try txn.get(txn.dbis.state, Keys.fieldSchema(cid)) else { return FieldSchema() }
        if let cached = schemaCache.withLock({ $0 }), cached.raw.elementsEqual(raw) { return cached.schema }
        let schema = try MetadataIndexCodec.decodeSchema(raw)
        schemaCache.withLock { $0 = (Array(raw), schema) }
        return schema
    }
}
