import CLMDB
import CVDBKernels
import Foundation
import VDBSupport

/// LMDB's page geometry, as the record sizes below are chosen for it (4 KiB pages, the size on
/// x86-64 and common arm64 Linux): a value above `leafValueLimit` bytes is stored on overflow
/// pages of its own, the first starting with an `overflowHeader`-byte page header.
enum LMDBPages {
    static let size = 4096
    static let overflowHeader = 16
    static let leafValueLimit = 2000
    /// Bytes a value of `count` bytes takes on overflow pages (whole pages).
    static func overflowBytes(_ count: Int) -> Int { (count + overflowHeader + size - 1) / size * size }
    /// Bytes a record takes: its overflow pages, or its share of a leaf page (key, value and an
    /// 8-byte node header).
    static func recordBytes(key: Int, value: Int) -> Int {
        value > leafValueLimit ? overflowBytes(value) : key + value + 8
    }
}

/// The id value that marks an empty slot inside a vector block. It cannot be used as a vector id.
let emptySlotID = UInt64.max

/// Persistent description of a collection (JSON in the `catalog` DBI, keyed by name).
struct CollectionConfig: Codable, Sendable, Equatable {
    /// Internal numeric id: the key prefix of every record of the collection. Never reused.
    var id: UInt32
    var name: String
    var dimension: Int
    var metric: Metric
    /// The index kind the collection carries (`flat` = none).
    var index: IndexKind
    var parameters: IndexParameters
    /// Whether the index has been built (a non-flat kind is searched as FLAT until it is).
    var indexBuilt: Bool
    /// Vector slots per block.
    var slotsPerBlock: Int

    /// Bytes of one stored block value: `slotsPerBlock` ids (u64) then `slotsPerBlock` rows of
    /// float32 (the payload), then the payload's CRC32C (format version 2).
    var blockBytes: Int { blockPayloadBytes + RecordChecksum.size }
    /// Bytes of a block before its checksum.
    var blockPayloadBytes: Int { slotsPerBlock * (8 + 4 * dimension) }
    /// Byte offset of the first row inside a block.
    var rowsOffset: Int { slotsPerBlock * 8 }

    /// Chooses how many vectors share one block: about 256 KiB per block (64 LMDB pages), sized
    /// so the value (with its checksum) plus LMDB's 16-byte overflow header fills whole 4 KiB
    /// pages with little waste.
    static func slotsPerBlock(dimension: Int) -> Int {
        let rowBytes = 8 + 4 * dimension
        let page = LMDBPages.size, header = LMDBPages.overflowHeader + RecordChecksum.size
        let pages = max(64, (rowBytes + header + page - 1) / page)
        return max(1, (pages * page - header) / rowBytes)
    }
}

/// Mutable per-collection counters (24 + 8 bytes LE in the `state` DBI, keyed by collection id).
struct CollectionState: Sendable, Equatable {
    /// Live vectors.
    var count: UInt64 = 0
    /// Slots ever handed out: every live slot is below this.
    var highSlot: UInt32 = 0
    /// Next id assigned when the caller gives none (one past the largest id ever stored).
    var nextID: UInt64 = 0
    /// Incremented by every committed write: lets a process notice changes made by another one.
    var epoch: UInt64 = 0

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        appendLE(&out, count)
        appendLE(&out, UInt64(highSlot))
        appendLE(&out, nextID)
        appendLE(&out, epoch)
        return out
    }

    init() {}

    init(_ buf: UnsafeRawBufferPointer) throws {
        var r = ByteCursor(storedRecord: buf)
        count = try r.read(UInt64.self)
        let hs = try r.read(UInt64.self)
        guard hs <= UInt64(UInt32.max) else { throw VDBError.corrupt("slot high-water mark out of range") }
        highSlot = UInt32(hs)
        nextID = try r.read(UInt64.self)
        epoch = try r.read(UInt64.self)
    }
}

/// Key layouts. Every collection-scoped key starts with the collection id (u32 big-endian), so
/// a collection's records are one contiguous key range, and integers sort numerically.
enum Keys {
    static func collection(_ c: UInt32) -> [UInt8] {
        var k: [UInt8] = []
        k.reserveCapacity(12)
        appendBE(&k, c)
        return k
    }
    static func block(_ c: UInt32, _ b: UInt32) -> [UInt8] {
        var k = collection(c)
        appendBE(&k, b)
        return k
    }
    static func id(_ c: UInt32, _ id: UInt64) -> [UInt8] {
        var k = collection(c)
        appendBE(&k, id)
        return k
    }
    static func slot(_ c: UInt32, _ s: UInt32) -> [UInt8] {
        var k = collection(c)
        appendBE(&k, s)
        return k
    }
    /// The collection's index statistics (u64 LE: bytes the loaded index holds), in the `state`
    /// DBI after the collection's state record ("i" after the 4-byte id; properties use "p").
    static func indexStats(_ c: UInt32) -> [UInt8] { collection(c) + [0x69] }
    /// The collection's field schema (MetadataIndexCodec), in the `state` DBI ("f" after the id).
    static func fieldSchema(_ c: UInt32) -> [UInt8] { collection(c) + [0x66] }
    static func readBE32(_ key: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bigEndian: key.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    static func readBE64(_ key: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: key.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

// MARK: - checksums

/// The checksum of stored records (database format version 2): every vector block, metadata
/// record and index record is stored as its payload followed by the payload's CRC32C (u32 LE).
///
/// This is the one place records are sealed and opened. A new kind of record adopts it by
/// writing with ``WriteTxn/putSealed(_:_:_:)`` (or sealing in place with
/// ``WriteTxn/reserveSealed(_:_:payloadSize:_:)``) and reading with ``ReadTxn/getSealed(_:_:what:)``
/// or, in a scan, ``RecordChecksum/open(_:what:)`` on each value; `vdb check` then verifies it
/// through ``RecordChecksum/verify(_:)``. Payload bytes keep the value's alignment (the
/// checksum is a trailer), so readers that bind the payload to wider types are unaffected.
enum RecordChecksum {
    /// Bytes of the trailer.
    static let size = 4

    /// CRC32C of `bytes` (hardware instruction when the CPU level allows).
    @inline(__always)
    static func crc(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        vdb_crc32c(0, bytes.baseAddress, bytes.count)
    }

    /// `payload` followed by its checksum: the stored form of a sealed record.
    static func seal(_ payload: [UInt8]) -> [UInt8] {
        var out = payload
        out.reserveCapacity(payload.count + size)
        appendLE(&out, payload.withUnsafeBytes { crc($0) })
        return out
    }

    /// Writes the checksum of the first `value.count - size` bytes of `value` into its last
    /// `size` bytes.
    static func sealInPlace(_ value: UnsafeMutableRawBufferPointer) {
        let n = value.count - size
        let c = crc(UnsafeRawBufferPointer(rebasing: value[0..<n]))
        value.storeBytes(of: c.littleEndian, toByteOffset: n, as: UInt32.self)
    }

    /// The stored and the computed checksum of a sealed value, or nil if it is too short to hold one.
    static func verify(_ stored: UnsafeRawBufferPointer) -> (stored: UInt32, computed: UInt32)? {
        guard stored.count >= size else { return nil }
        let n = stored.count - size
        let s = UInt32(littleEndian: stored.loadUnaligned(fromByteOffset: n, as: UInt32.self))
        return (s, crc(UnsafeRawBufferPointer(rebasing: stored[0..<n])))
    }

    /// The payload of a sealed value after checking its checksum.
    /// - Throws: ``VDBError/corrupt(_:)`` naming `what` when the value is too short or the
    ///   checksum does not match.
    static func open(_ stored: UnsafeRawBufferPointer, what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard let (s, c) = verify(stored) else {
            throw VDBError.corrupt("\(what()) is \(stored.count) bytes, too short for its checksum")
        }
        guard s == c else { throw mismatch(what(), stored: s, computed: c) }
        return UnsafeRawBufferPointer(rebasing: stored[0..<(stored.count - size)])
    }

    /// The error for a record whose checksum does not match.
    static func mismatch(_ what: String, stored: UInt32, computed: UInt32) -> VDBError {
        .corrupt("\(what) fails its checksum (stored \(hex(stored)), computed \(hex(computed))): "
                 + "the file was changed outside vdb; run 'vdb check' and restore from a backup")
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}

extension WriteTxn {
    /// Stores `payload` sealed with its checksum (see ``RecordChecksum``), without an extra copy.
    func putSealed(_ dbi: MDB_dbi, _ key: [UInt8], _ payload: UnsafeRawBufferPointer) throws {
        try reserve(dbi, key, size: payload.count + RecordChecksum.size) { value in
            if payload.count > 0 { value.baseAddress!.copyMemory(from: payload.baseAddress!, byteCount: payload.count) }
            RecordChecksum.sealInPlace(value)
        }
    }

    /// Stores `payload` sealed with its checksum.
    func putSealed(_ dbi: MDB_dbi, _ key: [UInt8], _ payload: [UInt8]) throws {
        try payload.withUnsafeBytes { try putSealed(dbi, key, $0) }
    }

    /// Reserves a sealed value of `payloadSize` bytes under `key`, lets `fill` write the payload
    /// in place, then seals it.
    func reserveSealed(_ dbi: MDB_dbi, _ key: [UInt8], payloadSize: Int,
                       _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        try reserve(dbi, key, size: payloadSize + RecordChecksum.size) { value in
            try fill(UnsafeMutableRawBufferPointer(rebasing: value[0..<payloadSize]))
            RecordChecksum.sealInPlace(value)
        }
    }
}

extension ReadTxn {
    /// The checked payload of the sealed record under `key`, or nil when there is none.
    /// - Throws: ``VDBError/corrupt(_:)`` naming `what` on a checksum mismatch.
    func getSealed(_ dbi: MDB_dbi, _ key: [UInt8], what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer? {
        guard let v = try get(dbi, key) else { return nil }
        return try RecordChecksum.open(v, what: what())
    }
}

/// Writes an index's records under the collection's prefix in the `index` DBI, each sealed with
/// its checksum.
struct TxnIndexWriter: IndexRecordWriter {
    let txn: WriteTxn
    let prefix: [UInt8]
    func put(_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws { try txn.putSealed(txn.dbis.index, prefix + key, value) }
    func delete(_ key: [UInt8]) throws { try txn.delete(txn.dbis.index, prefix + key) }
    func deleteAll() throws { try txn.deleteAll(txn.dbis.index, prefix: prefix) }
}

/// Reads an index's records under the collection's prefix in the `index` DBI, checking the
/// checksum of each (a mismatch throws ``VDBError/corrupt(_:)`` naming the record).
///
/// LMDB aligns values that share a page only to 2 bytes, so a value that is not 8-byte aligned
/// is copied into 16-byte-aligned memory first: indexes may bind record bytes to any scalar type.
/// Copies made by `get` live as long as the reader (the `load` call).
struct TxnIndexReader: IndexRecordReader {
    let txn: ReadTxn
    let prefix: [UInt8]
    private let arena = AlignedArena()

    init(txn: ReadTxn, prefix: [UInt8]) {
        self.txn = txn
        self.prefix = prefix
    }

    func get(_ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        guard let v = try txn.getSealed(txn.dbis.index, prefix + key, what: "index record \(RecordKey.describe(key))") else { return nil }
        return arena.aligned(v)
    }

    func forEach(prefix p: [UInt8], _ body: (_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws -> Void) throws {
        let n = prefix.count
        var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        defer { scratch.deallocate() }
        try txn.scan(txn.dbis.index, prefix: prefix + p) { key, sealed in
            let value = try RecordChecksum.open(sealed, what: "index record \(RecordKey.describe(Array(key[n...])))")
            if value.count == 0 || Int(bitPattern: value.baseAddress) % 8 == 0 {
                try body(Array(key[n...]), value)
            } else {
                if scratch.count < value.count {
                    scratch.deallocate()
                    scratch = .allocate(byteCount: max(value.count, 2 * scratch.count), alignment: 16)
                }
                scratch.copyMemory(from: value)
                try body(Array(key[n...]), UnsafeRawBufferPointer(rebasing: scratch[0..<value.count]))
            }
            return true
        }
    }
}

/// Owns aligned copies of record values for the lifetime of a `TxnIndexReader`.
final class AlignedArena {
    private var allocations: [UnsafeMutableRawBufferPointer] = []

    func aligned(_ v: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if v.count == 0 || Int(bitPattern: v.baseAddress) % 8 == 0 { return v }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: v.count, alignment: 16)
        copy.copyMemory(from: v)
        allocations.append(copy)
        return UnsafeRawBufferPointer(copy)
    }

    deinit { for a in allocations { a.deallocate() } }
}
