// The metadata index of a collection: for each indexed field, keyword postings (value -> slots)
// or a numeric column (slot -> value), kept in the `fields` DBI and changed by every write in the
// write's own transaction (so it commits, aborts and survives a crash with the vectors). The
// record formats are in MetadataIndexCodec.swift; the field declarations in Fields.swift.

/// Changes to the metadata index of one collection, collected during one write call and stored
/// at its end, each touched record rewritten once.
struct MetadataIndexChanges {
    private let cid: UInt32
    private let fields: [IndexedField]
    private let names: [[UInt8]]

    private struct KeywordKey: Hashable { var field: UInt16; var chunk: UInt16; var value: [UInt8] }
    private struct ChunkKey: Hashable { var field: UInt16; var chunk: UInt32 }

    private var keywords: [KeywordKey: [(offset: UInt16, add: Bool)]] = [:]
    private var presence: [ChunkKey: [(offset: UInt16, add: Bool)]] = [:]
    private var columns: [ChunkKey: [(offset: UInt16, value: UInt64?)]] = [:]

    /// Changes for `fields` (nil when there are none: nothing to maintain).
    init?(cid: UInt32, fields: [IndexedField]) {
        if fields.isEmpty { return nil }
        self.cid = cid
        self.fields = fields
        names = fields.map { Array($0.name.utf8) }
    }

    /// Indexes the metadata `record` (encoded) of the vector `id` now stored in `slot`.
    /// - Throws: ``VDBError/invalidArgument(_:)`` when a value does not fit its field's type.
    mutating func add(slot: UInt32, id: UInt64, record: UnsafeRawBufferPointer) throws {
        try MetadataCodec.forEachValue(record, of: names) { i, value in
            let f = fields[i]
            switch f.type.indexed(value) {
            case .success(let v): note(f, slot, v, add: true)
            case .failure(let e):
                throw VDBError.invalidArgument("metadata '\(f.name)' of id \(id) is \(FilterJSON.describe(value)), which \(e.reason): '\(f.name)' is an indexed \(f.type) field")
            }
        }
    }

    /// Takes the vector that was in `slot`, whose metadata was `record`, out of the index.
    mutating func remove(slot: UInt32, record: UnsafeRawBufferPointer) throws {
        try MetadataCodec.forEachValue(record, of: names) { i, value in
            if case .success(let v) = fields[i].type.indexed(value) { note(fields[i], slot, v, add: false) }
        }
    }

    private mutating func note(_ f: IndexedField, _ slot: UInt32, _ v: IndexedValue, add: Bool) {
        switch v {
        case .keyword(let text):
            let chunk = UInt16(truncatingIfNeeded: slot >> 16), offset = UInt16(truncatingIfNeeded: slot)
            keywords[KeywordKey(field: f.number, chunk: chunk, value: text), default: []].append((offset, add))
            presence[ChunkKey(field: f.number, chunk: UInt32(chunk)), default: []].append((offset, add))
        case .int, .double:
            let key = ChunkKey(field: f.number, chunk: slot >> UInt32(MetadataIndexCodec.columnShift))
            let offset = UInt16(slot & UInt32(MetadataIndexCodec.columnSlots - 1))
            columns[key, default: []].append((offset, add ? MetadataIndexCodec.raw(v) : nil))
        }
    }

    /// A metadata-index record named by its key, for checksum errors.
    static func describe(_ key: [UInt8]) -> String {
        let cid = key.count >= 4 ? UInt32(key[0]) << 24 | UInt32(key[1]) << 16 | UInt32(key[2]) << 8 | UInt32(key[3]) : 0
        return "metadata index record " + key.dropFirst(4).map { String($0, radix: 16) }.joined(separator: ".") + " of collection \(cid)"
    }

    /// Stores the changes in `txn`: each touched container and column chunk is read, changed and
    /// written (or deleted when it became empty) once.
    func store(_ txn: WriteTxn) throws {
        var words = [UInt64](repeating: 0, count: 1024)
        func update(_ key: [UInt8], _ changes: [(offset: UInt16, add: Bool)]) throws {
            try words.withUnsafeMutableBufferPointer { w in
                w.update(repeating: 0)
                try MetadataIndexCodec.decodeContainer(try txn.reader.getSealed(txn.dbis.fields, key, what: Self.describe(key)), into: w)
                for c in changes {
                    let bit: UInt64 = 1 << UInt64(c.offset & 63)
                    if c.add { w[Int(c.offset >> 6)] |= bit } else { w[Int(c.offset >> 6)] &= ~bit }
                }
                if let out = MetadataIndexCodec.encodeContainer(UnsafeBufferPointer(w)) {
                    try txn.putSealed(txn.dbis.fields, key, out)
                } else {
                    try txn.delete(txn.dbis.fields, key)
                }
            }
        }
        for (k, changes) in keywords {
            try update(MetadataIndexCodec.keywordKey(cid, k.field, chunk: k.chunk, value: k.value), changes)
        }
        for (k, changes) in presence {
            try update(MetadataIndexCodec.presenceKey(cid, k.field, chunk: UInt16(k.chunk)), changes)
        }
        for (k, changes) in columns {
            let key = MetadataIndexCodec.columnKey(cid, k.field, chunk: k.chunk)
            var column = try MetadataIndexCodec.decodeColumn(try txn.reader.getSealed(txn.dbis.fields, key, what: Self.describe(key)))
            for c in changes {
                let bit: UInt64 = 1 << UInt64(c.offset & 63)
                if let v = c.value {
                    column.present[Int(c.offset >> 6)] |= bit
                    column.values[Int(c.offset)] = v
                } else {
                    column.present[Int(c.offset >> 6)] &= ~bit
                }
            }
            if let out = MetadataIndexCodec.encode(column) {
                try txn.putSealed(txn.dbis.fields, key, out)
            } else {
                try txn.delete(txn.dbis.fields, key)
            }
        }
    }
}

/// Reads the metadata index of one collection in one snapshot.
struct MetadataIndexReader {
    let txn: ReadTxn
    let cid: UInt32
    /// The snapshot's slot high-water mark: bitsets cover slots below it.
    let slots: Int

    private var containers: Int { (slots + MetadataIndexCodec.containerSlots - 1) / MetadataIndexCodec.containerSlots }

    /// The slots whose keyword field `f` has one of `values` (canonical text).
    func keyword(_ f: IndexedField, values: [[UInt8]]) throws -> SlotBitset {
        try containers(f) { chunk in values.map { MetadataIndexCodec.keywordKey(cid, f.number, chunk: chunk, value: $0) } }
    }

    /// The slots that have a value for `f`.
    func present(_ f: IndexedField) throws -> SlotBitset {
        if f.type == .keyword {
            return try containers(f) { [MetadataIndexCodec.presenceKey(cid, f.number, chunk: $0)] }
        }
        return try column(f) { _ in true }
    }

    /// The slots whose numeric field `f` has a value (raw 8 bytes, see `MetadataIndexCodec.number`)
    /// that `test` accepts.
    func column(_ f: IndexedField, _ test: (UInt64) -> Bool) throws -> SlotBitset {
        var out = SlotBitset(slots: slots)
        try txn.scan(txn.dbis.fields, prefix: MetadataIndexCodec.columnPrefix(cid, f.number)) { key, sealed in
            let value = try RecordChecksum.open(sealed, what: MetadataIndexChanges.describe(Array(key)))
            let base = Int(try MetadataIndexCodec.columnChunk(key)) << MetadataIndexCodec.columnShift
            try MetadataIndexCodec.forEachValue(value) { o, raw in
                if test(raw) { out.insert(UInt32(truncatingIfNeeded: base + o)) }
            }
            return true
        }
        return out
    }

    /// The union of the posting containers `keys(chunk)` names, for every container of the snapshot.
    private func containers(_ f: IndexedField, _ keys: (UInt16) -> [[UInt8]]) throws -> SlotBitset {
        var out = SlotBitset(slots: slots)
        var words = [UInt64](repeating: 0, count: 1024)
        for chunk in 0..<containers {
            try words.withUnsafeMutableBufferPointer { w in
                w.update(repeating: 0)
                for key in keys(UInt16(chunk)) {
                    try MetadataIndexCodec.decodeContainer(try txn.getSealed(txn.dbis.fields, key, what: MetadataIndexChanges.describe(key)), into: w)
                }
                out.formUnion(container: UnsafeBufferPointer(w), chunk: chunk)
            }
        }
        return out
    }
}

enum MetadataIndex {
    /// Indexes every stored vector's metadata for the newly declared `fields` (inside `addFields`).
    static func build(_ fields: [IndexedField], collection c: Collection, txn: WriteTxn) throws {
        guard var changes = MetadataIndexChanges(cid: c.cid, fields: fields) else { return }
        try c.forEachMetadataRecord(txn.reader) { id, slot, record in
            try changes.add(slot: slot, id: id, record: record)
        }
        try changes.store(txn)
    }
}

extension Collection {
    /// Visits the id, slot and encoded metadata of every vector that has metadata, in id order.
    func forEachMetadataRecord(_ txn: ReadTxn, _ body: (_ id: UInt64, _ slot: UInt32, _ record: UnsafeRawBufferPointer) throws -> Void) throws {
        var ids: [UInt64] = [], slots: [UInt32] = []
        try txn.scan(txn.dbis.ids, prefix: prefix) { key, value in
            guard key.count == 12, value.count == 4 else { throw VDBError.corrupt("id record of '\(name)' has a \(key.count)-byte key and a \(value.count)-byte value") }
            ids.append(Keys.readBE64(key, at: 4))
            slots.append(UInt32(littleEndian: value.loadUnaligned(as: UInt32.self)))
            return true
        }
        var j = 0
        try txn.scan(txn.dbis.metadata, prefix: prefix) { key, sealed in
            guard key.count == 12 else { return true }
            let id = Keys.readBE64(key, at: 4)
            let value = try RecordChecksum.open(sealed, what: "metadata of id \(id) in '\(name)'")
            while j < ids.count && ids[j] < id { j += 1 }
            guard j < ids.count, ids[j] == id else { throw VDBError.corrupt("metadata of '\(name)' for id \(id), which is not stored") }
            try body(id, slots[j], value)
            return true
        }
    }

    /// Checks that the metadata index holds exactly what the stored metadata says, for every
    /// indexed field (each keyword value, each number, each presence). A crash-consistency check
    /// for tests and tools.
    /// - Throws: ``VDBError/corrupt(_:)`` naming the first field and slot that differ.
    public func verifyFieldIndex() throws {
        try env.read { txn in try verifyFieldIndex(txn) }
    }

    /// ``verifyFieldIndex()`` in snapshot `txn` (`Database.check` runs it in its own snapshot).
    func verifyFieldIndex(_ txn: ReadTxn) throws {
        do {
            let st = try state(txn)
            let schema = try schema(txn)
            if schema.isEmpty { return }
            // What the metadata says, per field: the indexed value by slot.
            var expected = [[UInt32: IndexedValue]](repeating: [:], count: schema.fields.count)
            let names = schema.fields.map { Array($0.name.utf8) }
            try forEachMetadataRecord(txn) { id, slot, record in
                try MetadataCodec.forEachValue(record, of: names) { i, value in
                    guard case .success(let v) = schema.fields[i].type.indexed(value) else {
                        throw VDBError.corrupt("id \(id) of '\(name)' has \(FilterJSON.describe(value)) for \(schema.fields[i].type) field '\(schema.fields[i].name)'")
                    }
                    expected[i][slot] = v
                }
            }
            let reader = MetadataIndexReader(txn: txn, cid: cid, slots: Int(st.highSlot))
            for (i, f) in schema.fields.enumerated() {
                // What the index says.
                var indexed: [UInt32: IndexedValue] = [:]
                var duplicate: UInt32?
                if f.type == .keyword {
                    let p = MetadataIndexCodec.fieldPrefix(cid, f.number) + [MetadataIndexCodec.keywordTag]
                    var words = [UInt64](repeating: 0, count: 1024)
                    try txn.scan(txn.dbis.fields, prefix: p) { key, sealed in
                        guard key.count >= p.count + 2 else { throw VDBError.corrupt("metadata index key of \(key.count) bytes") }
                        let value = try RecordChecksum.open(sealed, what: MetadataIndexChanges.describe(Array(key)))
                        let chunk = Int(UInt16(bigEndian: key.loadUnaligned(fromByteOffset: p.count, as: UInt16.self)))
                        let text = Array(key[(p.count + 2)...])
                        try words.withUnsafeMutableBufferPointer { w in
                            w.update(repeating: 0)
                            try MetadataIndexCodec.decodeContainer(value, into: w)
                            SlotBitset.forEachBit(UnsafeBufferPointer(w)) { o in
                                let slot = UInt32(chunk << 16 | Int(o))
                                if indexed.updateValue(.keyword(text), forKey: slot) != nil { duplicate = slot }
                            }
                        }
                        return true
                    }
                } else {
                    try txn.scan(txn.dbis.fields, prefix: MetadataIndexCodec.columnPrefix(cid, f.number)) { key, sealed in
                        let value = try RecordChecksum.open(sealed, what: MetadataIndexChanges.describe(Array(key)))
                        let base = Int(try MetadataIndexCodec.columnChunk(key)) << MetadataIndexCodec.columnShift
                        try MetadataIndexCodec.forEachValue(value) { o, raw in
                            indexed[UInt32(base + o)] = f.type == .int ? .int(Int64(bitPattern: raw)) : .double(Double(bitPattern: raw))
                        }
                        return true
                    }
                }
                let problem = "metadata index of '\(name)', field '\(f.name)'"
                if let duplicate { throw VDBError.corrupt("\(problem): slot \(duplicate) is indexed under two values") }
                if let slot = expected[i].keys.sorted().first(where: { !indexedEqual(indexed[$0], expected[i][$0]) }) {
                    throw VDBError.corrupt("\(problem): slot \(slot) is indexed as \(indexed[slot].map { "\($0)" } ?? "nothing") but its metadata has \(expected[i][slot].map { "\($0)" } ?? "nothing")")
                }
                if let slot = indexed.keys.sorted().first(where: { expected[i][$0] == nil }) {
                    throw VDBError.corrupt("\(problem): slot \(slot) is indexed but its vector has no value")
                }
                var present = Set<UInt32>()
                try reader.present(f).forEach { present.insert($0) }
                guard present == Set(expected[i].keys) else {
                    throw VDBError.corrupt("\(problem): the presence set differs from the vectors that have a value")
                }
            }
        }
    }
}

/// Equality of indexed values, NaN-free doubles compared by bits (as the column stores them).
private func indexedEqual(_ a: IndexedValue?, _ b: IndexedValue?) -> Bool {
    switch (a, b) {
    case let (.double(x)?, .double(y)?): return x.bitPattern == y.bitPattern
    default: return a == b
    }
}
