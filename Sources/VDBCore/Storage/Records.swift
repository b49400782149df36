import Foundation
import VDBSupport

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

    /// Bytes of one block value: `slotsPerBlock` ids (u64) then `slotsPerBlock` rows of float32.
    var blockBytes: Int { slotsPerBlock * (8 + 4 * dimension) }
    /// Byte offset of the first row inside a block.
    var rowsOffset: Int { slotsPerBlock * 8 }

    /// Chooses how many vectors share one block: about 256 KiB per block (64 LMDB pages), sized
    /// so the value plus LMDB's 16-byte overflow header fills whole 4 KiB pages with little waste.
    static func slotsPerBlock(dimension: Int) -> Int {
        let rowBytes = 8 + 4 * dimension
        let page = 4096, header = 16
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

/// Writes an index's records under the collection's prefix in the `index` DBI.
struct TxnIndexWriter: IndexRecordWriter {
    let txn: WriteTxn
    let prefix: [UInt8]
    func put(_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws { try txn.put(txn.dbis.index, prefix + key, value) }
    func delete(_ key: [UInt8]) throws { try txn.delete(txn.dbis.index, prefix + key) }
    func deleteAll() throws { try txn.deleteAll(txn.dbis.index, prefix: prefix) }
}

/// Reads an index's records under the collection's prefix in the `index` DBI.
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
        guard let v = try txn.get(txn.dbis.index, prefix + key) else { return nil }
        return arena.aligned(v)
    }

    func forEach(prefix p: [UInt8], _ body: (_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws -> Void) throws {
        let n = prefix.count
        var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        defer { scratch.deallocate() }
        try txn.scan(txn.dbis.index, prefix: prefix + p) { key, value in
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
