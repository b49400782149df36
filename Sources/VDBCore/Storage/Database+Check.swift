// `Database.check`: a full integrity check of one snapshot (what `vdb check` runs). Every stored
// record is read and verified; nothing is written. See Docs/reliability.md.
import CLMDB
import Foundation

/// The result of ``Database/check(collection:)``.
public struct CheckReport: Sendable, Codable, Equatable {
    /// The database directory.
    public var path: String
    /// The on-disk format version.
    public var formatVersion: Int
    /// Bytes of `data.mdb`, and the bytes LMDB's newest meta page says it needs.
    public var fileBytes: Int
    public var requiredBytes: Int
    /// One entry per collection checked, by name.
    public var collections: [CollectionCheck]
    /// Problems that belong to no single collection (the catalog, records of no collection).
    public var problems: [String]

    /// Whether nothing is wrong.
    public var ok: Bool { problems.isEmpty && collections.allSatisfy(\.ok) }
    /// Number of problems found in all.
    public var problemCount: Int { problems.count + collections.reduce(0) { $0 + $1.problems.count } }
}

/// What ``Database/check(collection:)`` found in one collection.
public struct CollectionCheck: Sendable, Codable, Equatable {
    public var name: String
    /// Live vectors found in the blocks (equal to the stored count when the check passes).
    public var count: Int
    /// Vector blocks read, metadata records and index records verified.
    public var blocks: Int
    public var metadataRecords: Int
    public var indexRecords: Int
    /// The index whose invariants were checked (`flat` when none is built).
    public var index: IndexKind
    /// Each problem, one line (at most ``Database/checkProblemLimit`` per collection, then a summary line).
    public var problems: [String]

    public var ok: Bool { problems.isEmpty }
}

extension Database {
    /// Problems listed per collection before the rest are only counted.
    public static let checkProblemLimit = 20

    /// Checks the integrity of the database, or of the collection `name`, in one consistent
    /// snapshot (writers may run meanwhile; nothing is written):
    ///
    /// - the data file's size against LMDB's own metadata (also checked on every open);
    /// - the catalog and the format stamp; records that belong to no collection;
    /// - per collection: the CRC32C of every vector block, metadata record and index record; the
    ///   stored count against the live slots; the id map against the ids in the blocks (both
    ///   ways); the free list against the empty slots below the high-water mark; every metadata
    ///   record belonging to a stored id and decoding; and, when an index is built, loading it
    ///   and checking its invariants (HNSW links point at present nodes, IVF lists hold every
    ///   live slot once) against the live slots.
    ///
    /// A problem in one collection never stops the check of the others.
    /// - Throws: only when the database cannot be read at all, or `name` does not exist.
    public func check(collection name: String? = nil) throws -> CheckReport {
        let facts = try DataFileCheck.facts((path as NSString).appendingPathComponent("data.mdb"))
        return try env.read { txn in
            var problems: [String] = []
            var format = 0
            if let f = try txn.get(txn.dbis.meta, Array("format".utf8)), f.count == 4 {
                format = Int(UInt32(littleEndian: f.loadUnaligned(as: UInt32.self)))
            } else {
                problems.append("the format stamp is missing")
            }
            var nextCollection: UInt32 = 0
            if let n = try txn.get(txn.dbis.meta, Array("next_collection".utf8)), n.count == 4 {
                nextCollection = UInt32(littleEndian: n.loadUnaligned(as: UInt32.self))
            } else {
                problems.append("the next collection id is missing")
            }
            // The catalog: every entry decodes, ids are unique and below the next id.
            var configs: [CollectionConfig] = []
            var names: [String] = []
            try txn.scan(txn.dbis.catalog, prefix: []) { key, value in
                let entry = String(decoding: key, as: UTF8.self)
                names.append(entry)
                do {
                    let c = try JSONDecoder().decode(CollectionConfig.self, from: Data(value))
                    if c.name != entry { problems.append("catalog entry '\(entry)' names the collection '\(c.name)'") }
                    if c.id >= nextCollection { problems.append("collection '\(entry)' has id \(c.id), not below the next id \(nextCollection)") }
                    if configs.contains(where: { $0.id == c.id }) { problems.append("collection '\(entry)' shares id \(c.id) with another") }
                    configs.append(c)
                } catch {
                    problems.append("catalog entry '\(entry)' does not decode: \(error)")
                }
                return true
            }
            if let name, !names.contains(name) { throw VDBError.collectionNotFound(name) }
            // Records of collections the catalog does not know (checked for the whole database only).
            if name == nil {
                let known = Set(configs.map(\.id))
                for dbiName in ["state", "blocks", "ids", "metadata", "free", "index", "fields"] {
                    var orphans = 0
                    try txn.scan(txn.dbis[dbiName], prefix: []) { key, _ in
                        if key.count < 4 || !known.contains(Keys.readBE32(key, at: 0)) { orphans += 1 }
                        return true
                    }
                    if orphans > 0 { problems.append("\(orphans) record(s) in '\(dbiName)' belong to no collection") }
                }
            }
            var checks: [CollectionCheck] = []
            for entry in names where name == nil || entry == name {
                guard let config = configs.first(where: { $0.name == entry }) else {
                    checks.append(CollectionCheck(name: entry, count: 0, blocks: 0, metadataRecords: 0, indexRecords: 0,
                                                  index: .flat, problems: ["its catalog entry does not decode"]))
                    continue
                }
                var checker = CollectionChecker(collection: try handle(for: config), config: config, txn: txn)
                checks.append(checker.run())
            }
            return CheckReport(path: path, formatVersion: format,
                               fileBytes: Int(clamping: facts?.fileBytes ?? 0), requiredBytes: Int(clamping: facts?.requiredBytes ?? 0),
                               collections: checks, problems: problems)
        }
    }
}

/// The check of one collection in one snapshot.
private struct CollectionChecker {
    let collection: Collection
    let config: CollectionConfig
    let txn: ReadTxn
    private var problems: [String] = []
    private var dropped = 0

    init(collection: Collection, config: CollectionConfig, txn: ReadTxn) {
        self.collection = collection
        self.config = config
        self.txn = txn
    }

    mutating func problem(_ text: String) {
        if problems.count < Database.checkProblemLimit { problems.append(text) } else { dropped += 1 }
    }

    mutating func run() -> CollectionCheck {
        var result = CollectionCheck(name: config.name, count: 0, blocks: 0, metadataRecords: 0, indexRecords: 0,
                                     index: config.indexBuilt ? config.index : .flat, problems: [])
        do {
            try check(&result)
        } catch {
            problem("the check stopped: \(error)")
        }
        if dropped > 0 { problems.append("... and \(dropped) more problem(s)") }
        result.problems = problems
        return result
    }

    private mutating func check(_ result: inout CollectionCheck) throws {
        let prefix = Keys.collection(config.id)
        guard let rawState = try txn.get(txn.dbis.state, prefix) else {
            problem("the state record is missing")
            return
        }
        let st: CollectionState
        do { st = try CollectionState(rawState) } catch {
            problem("the state record does not decode: \(error)")
            return
        }
        let B = config.slotsPerBlock
        let high = Int(st.highSlot)
        // Blocks: size, checksum, position; the live (id, slot) pairs and the empty slots.
        var live: [(id: UInt64, slot: UInt32)] = []
        live.reserveCapacity(Int(clamping: min(st.count, 1 << 26)))
        var empty = [UInt8](repeating: 0xFF, count: (high + 7) / 8)  // bit set = empty (missing blocks too)
        var maxID: UInt64? = nil
        var badBlocks = Set<Int>()
        func inBadBlock(_ slot: UInt32) -> Bool { badBlocks.contains(Int(slot) / B) }
        try txn.scan(txn.dbis.blocks, prefix: prefix) { key, value in
            result.blocks += 1
            guard key.count == 8 else { problem("a block key has \(key.count) bytes, expected 8"); return true }
            let b = Int(Keys.readBE32(key, at: 4))
            guard value.count == config.blockBytes else {
                problem("block \(b) has \(value.count) bytes, expected \(config.blockBytes)")
                return true
            }
            if let (s, c) = RecordChecksum.verify(value), s != c {
                problem("block \(b) fails its checksum (stored \(RecordChecksum.hex(s)), computed \(RecordChecksum.hex(c)))")
                badBlocks.insert(b)
                return true  // its ids cannot be trusted: the checks below skip its slots
            }
            let first = b * B
            guard first < high else {
                problem("block \(b) lies beyond the slot high-water mark \(high)")
                return true
            }
            for o in 0..<min(B, high - first) {
                let id = UInt64(littleEndian: value.loadUnaligned(fromByteOffset: o * 8, as: UInt64.self))
                if id == emptySlotID { continue }
                let slot = first + o
                empty[slot >> 3] &= ~(1 << UInt8(slot & 7))
                live.append((id, UInt32(slot)))
                maxID = max(maxID ?? 0, id)
            }
            return true
        }
        result.count = live.count
        if badBlocks.isEmpty && UInt64(live.count) != st.count { problem("the state says \(st.count) vectors, the blocks hold \(live.count)") }
        if let maxID, maxID >= st.nextID { problem("id \(maxID) is stored but the next id is \(st.nextID)") }
        live.sort { $0.id < $1.id }
        for i in 1..<max(1, live.count) where live[i].id == live[i - 1].id {
            problem("id \(live[i].id) is stored in slots \(live[i - 1].slot) and \(live[i].slot)")
        }
        // The id map, both ways (records come in id order, like `live`).
        var j = 0, idRecords = 0
        try txn.scan(txn.dbis.ids, prefix: prefix) { key, value in
            idRecords += 1
            guard key.count == 12, value.count == 4 else {
                problem("an id map record has a \(key.count)-byte key and a \(value.count)-byte value, expected 12 and 4")
                return true
            }
            let id = Keys.readBE64(key, at: 4)
            let slot = UInt32(littleEndian: value.loadUnaligned(as: UInt32.self))
            while j < live.count && live[j].id < id {
                problem("id \(live[j].id) is stored in slot \(live[j].slot) but missing from the id map")
                j += 1
            }
            if j < live.count && live[j].id == id {
                if live[j].slot != slot { problem("the id map sends id \(id) to slot \(slot), the blocks hold it in slot \(live[j].slot)") }
                j += 1
            } else if !inBadBlock(slot) {
                problem("the id map sends id \(id) to slot \(slot), which does not hold it")
            }
            return true
        }
        while j < live.count {
            problem("id \(live[j].id) is stored in slot \(live[j].slot) but missing from the id map")
            j += 1
        }
        // The free list: exactly the empty slots below the high-water mark.
        var free = 0
        try txn.scan(txn.dbis.free, prefix: prefix) { key, _ in
            guard key.count == 8 else { problem("a free-list key has \(key.count) bytes, expected 8"); return true }
            let s = Int(Keys.readBE32(key, at: 4))
            free += 1
            if s >= high { problem("free slot \(s) is at or above the high-water mark \(high)") }
            else if empty[s >> 3] & (1 << UInt8(s & 7)) == 0 { problem("free slot \(s) holds a vector") }
            return true
        }
        if badBlocks.isEmpty && free != high - live.count {
            problem("the free list has \(free) slots, but \(high - live.count) slots below the high-water mark are empty")
        }
        // Metadata: checksum, decoding, and an owner (records come in id order, like `live`).
        var m = 0
        try txn.scan(txn.dbis.metadata, prefix: prefix) { key, value in
            result.metadataRecords += 1
            guard key.count == 12 else { problem("a metadata key has \(key.count) bytes, expected 12"); return true }
            let id = Keys.readBE64(key, at: 4)
            do {
                _ = try MetadataCodec.decode(try RecordChecksum.open(value, what: "metadata of id \(id)"))
            } catch let e as VDBError {
                problem(Self.strip(e))
            }
            while m < live.count && live[m].id < id { m += 1 }
            if (m == live.count || live[m].id != id) && badBlocks.isEmpty { problem("metadata of id \(id) belongs to no stored vector") }
            return true
        }
        // Index records and metadata-index records (indexed fields): checksums, then each index.
        let (indexRecords, badIndexRecord) = try verifySealed(txn.dbis.index, prefix) { "index record \(RecordKey.describe(Array($0[4...])))" }
        result.indexRecords = indexRecords
        let (_, badFieldRecord) = try verifySealed(txn.dbis.fields, prefix) { MetadataIndexChanges.describe($0) }
        if !badFieldRecord && problems.isEmpty && dropped == 0 {
            do { try collection.verifyFieldIndex(txn) } catch let e as VDBError { problem(Self.strip(e)) }
        }
        if !(config.indexBuilt && config.index != .flat) {
            if result.indexRecords > 0 { problem("\(result.indexRecords) index record(s) remain but no index is built") }
        } else if !badIndexRecord && problems.isEmpty && dropped == 0 {
            do {
                let (_, loaded) = try collection.loadIndex(txn, epoch: st.epoch)
                if let loaded {
                    try loaded.index.checkInvariants(liveSlots: Set(live.lazy.map(\.slot)))
                } else {
                    problem("the catalog says a \(config.index) index is built, but it does not load")
                }
            } catch let e as VDBError {
                problem("the \(config.index) index: \(Self.strip(e))")
            }
        }
    }

    /// Checks the checksum of every record of `dbi` under `prefix`, reporting each that fails
    /// (named by `describe(key)`); returns how many records there are and whether any failed.
    private mutating func verifySealed(_ dbi: MDB_dbi, _ prefix: [UInt8],
                                       describe: ([UInt8]) -> String) throws -> (count: Int, bad: Bool) {
        var count = 0, bad = false
        try txn.scan(dbi, prefix: prefix) { key, value in
            count += 1
            if let (s, c) = RecordChecksum.verify(value), s != c {
                problem("\(describe(Array(key))) fails its checksum (stored \(RecordChecksum.hex(s)), computed \(RecordChecksum.hex(c)))")
                bad = true
            } else if value.count < RecordChecksum.size {
                problem("\(describe(Array(key))) is too short for its checksum")
                bad = true
            }
            return true
        }
        return (count, bad)
    }

    /// An error's message without the "corrupt database: " lead (the report says it already).
    static func strip(_ e: VDBError) -> String {
        if case .corrupt(let m) = e { return m }
        return e.description
    }
}
