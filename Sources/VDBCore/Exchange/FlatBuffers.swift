// The few FlatBuffers pieces the Arrow IPC format needs: a builder for the metadata vdb writes
// and a bounds-checked reader for the metadata other Arrow implementations (pyarrow) write.
//
// Wire format (flatbuffers.dev, "internals"): a buffer starts with a u32 offset to the root
// table. A table starts with an i32 `soffset`; its vtable sits at `table - soffset` and holds
// u16 vtable size, u16 table size, then one u16 offset per field id (0 = absent). Offsets to
// strings, vectors and sub-tables are u32 and point forward from where they are stored. Strings
// and vectors start with a u32 element count. Every scalar is aligned to its size, relative to
// the start of the buffer.

/// A value of one field of a table being built.
enum FlatField {
    case bool(Bool)
    case uint8(UInt8)
    case int16(Int16)
    case int32(Int32)
    case int64(Int64)
    case object(FlatObject)

    /// Inline size (and alignment) in the table.
    var size: Int {
        switch self {
        case .bool, .uint8: return 1
        case .int16: return 2
        case .int32, .object: return 4
        case .int64: return 8
        }
    }
}

/// An object the builder lays out after whatever refers to it.
indirect enum FlatObject {
    /// A table: field values by field id (nil = absent, the reader's default).
    case table([FlatField?])
    case string(String)
    /// A vector of tables.
    case tables([FlatObject])
    /// A vector of structs given as raw little-endian bytes, `alignment` the struct's alignment.
    case structs(count: Int, alignment: Int, bytes: [UInt8])
}

/// Builds one flatbuffer front to back: parents first, then the objects they point to, so every
/// u32 offset points forward as the format requires.
struct FlatBufferBuilder {
    private(set) var bytes: [UInt8] = []

    /// The finished buffer for `root` (a table), padded to a multiple of 8 bytes.
    static func build(root: FlatObject) -> [UInt8] {
        var b = FlatBufferBuilder()
        b.bytes = [0, 0, 0, 0]
        let pos = b.write(root)
        b.patch(0, UInt32(pos))
        b.align(8)
        return b.bytes
    }

    private mutating func align(_ n: Int) {
        while bytes.count % n != 0 { bytes.append(0) }
    }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func patch(_ at: Int, _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { for i in 0..<4 { bytes[at + i] = $0[i] } }
    }

    /// Points the u32 slot at `slot` to the object at `target` (which lies after it).
    private mutating func link(_ slot: Int, to target: Int) {
        patch(slot, UInt32(target - slot))
    }

    /// Writes `object` and everything it refers to; returns its position.
    private mutating func write(_ object: FlatObject) -> Int {
        switch object {
        case .string(let s):
            align(4)
            let pos = bytes.count
            let utf8 = Array(s.utf8)
            append(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
            bytes.append(0)
            return pos
        case .structs(let count, let alignment, let raw):
            // The elements (after the u32 count) must be aligned to the struct's alignment.
            align(4)
            while (bytes.count + 4) % max(4, alignment) != 0 { bytes.append(0) }
            let pos = bytes.count
            append(UInt32(count))
            bytes.append(contentsOf: raw)
            return pos
        case .tables(let items):
            align(4)
            let pos = bytes.count
            append(UInt32(items.count))
            let slots = (0..<items.count).map { pos + 4 + 4 * $0 }
            for _ in items { append(UInt32(0)) }
            for (slot, item) in zip(slots, items) { link(slot, to: write(item)) }
            return pos
        case .table(let fields):
            return writeTable(fields)
        }
    }

    private mutating func writeTable(_ fields: [FlatField?]) -> Int {
        // Inline layout: the soffset, then fields largest first so each sits at its alignment
        // (the table itself starts 8-aligned).
        var layout: [(id: Int, offset: Int)] = []
        var inline = 4
        for size in [8, 4, 2, 1] {
            for (id, f) in fields.enumerated() {
                guard let f, f.size == size else { continue }
                inline = (inline + size - 1) / size * size
                layout.append((id, inline))
                inline += size
            }
        }
        inline = (inline + 3) / 4 * 4
        // The vtable first (2-aligned), then the table (8-aligned); soffset = table - vtable.
        align(2)
        let vtable = bytes.count
        append(UInt16(4 + 2 * fields.count))
        append(UInt16(inline))
        var entries = [UInt16](repeating: 0, count: fields.count)
        for (id, offset) in layout { entries[id] = UInt16(offset) }
        for e in entries { append(e) }
        align(8)
        let table = bytes.count
        append(Int32(table - vtable))
        bytes.append(contentsOf: repeatElement(0, count: inline - 4))
        var children: [(slot: Int, object: FlatObject)] = []
        for (id, offset) in layout {
            let at = table + offset
            var scratch: [UInt8] = []
            switch fields[id]! {
            case .bool(let v): scratch = [v ? 1 : 0]
            case .uint8(let v): scratch = [v]
            case .int16(let v): scratch = withUnsafeBytes(of: v.littleEndian) { Array($0) }
            case .int32(let v): scratch = withUnsafeBytes(of: v.littleEndian) { Array($0) }
            case .int64(let v): scratch = withUnsafeBytes(of: v.littleEndian) { Array($0) }
            case .object(let o): children.append((at, o))
            }
            for (i, byte) in scratch.enumerated() { bytes[at + i] = byte }
        }
        for (slot, object) in children { link(slot, to: write(object)) }
        return table
    }
}

/// Reads a flatbuffer written by any implementation. Every access is bounds-checked and throws
/// ``VDBError/badInput(path:message:)`` naming `source`, so a malformed file never crashes.
struct FlatBufferReader {
    let bytes: [UInt8]
    /// Named in error messages.
    let source: String

    func fail(_ what: String) -> VDBError { .badInput(path: source, message: "malformed Arrow metadata: \(what)") }

    func read<T: FixedWidthInteger>(_ type: T.Type, at pos: Int) throws -> T {
        let size = MemoryLayout<T>.size
        guard pos >= 0, pos <= bytes.count - size else { throw fail("read of \(size) bytes at \(pos) past the end (\(bytes.count))") }
        var v = T.zero
        withUnsafeMutableBytes(of: &v) { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[pos..<(pos + size)])) }
        }
        return T(littleEndian: v)
    }

    /// The root table.
    func root() throws -> FlatTable {
        FlatTable(reader: self, pos: Int(try read(UInt32.self, at: 0)))
    }
}

/// A table inside a ``FlatBufferReader`` buffer.
struct FlatTable {
    let reader: FlatBufferReader
    let pos: Int

    /// Absolute position of field `id`, or nil when absent.
    func field(_ id: Int) throws -> Int? {
        let vtable = pos - Int(try reader.read(Int32.self, at: pos))
        let vsize = Int(try reader.read(UInt16.self, at: vtable))
        let entry = 4 + 2 * id
        guard entry + 2 <= vsize else { return nil }
        let off = Int(try reader.read(UInt16.self, at: vtable + entry))
        return off == 0 ? nil : pos + off
    }

    func scalar<T: FixedWidthInteger>(_ id: Int, _ type: T.Type, default d: T) throws -> T {
        guard let p = try field(id) else { return d }
        return try reader.read(T.self, at: p)
    }

    func bool(_ id: Int) throws -> Bool { try scalar(id, UInt8.self, default: 0) != 0 }

    /// Position an offset field points to.
    private func target(_ id: Int) throws -> Int? {
        guard let p = try field(id) else { return nil }
        return p + Int(try reader.read(UInt32.self, at: p))
    }

    func table(_ id: Int) throws -> FlatTable? {
        try target(id).map { FlatTable(reader: reader, pos: $0) }
    }

    func string(_ id: Int) throws -> String? {
        guard let p = try target(id) else { return nil }
        let n = Int(try reader.read(UInt32.self, at: p))
        guard n >= 0, p + 4 <= reader.bytes.count - n else { throw reader.fail("string of \(n) bytes at \(p) past the end") }
        return String(decoding: reader.bytes[(p + 4)..<(p + 4 + n)], as: UTF8.self)
    }

    func tables(_ id: Int) throws -> [FlatTable] {
        guard let p = try target(id) else { return [] }
        let n = Int(try reader.read(UInt32.self, at: p))
        guard n <= (reader.bytes.count - p) / 4 else { throw reader.fail("vector of \(n) tables at \(p) past the end") }
        return try (0..<n).map { i in
            let slot = p + 4 + 4 * i
            return FlatTable(reader: reader, pos: slot + Int(try reader.read(UInt32.self, at: slot)))
        }
    }

    /// A vector of structs of `stride` bytes: position of the first element and the count.
    func structs(_ id: Int, stride: Int) throws -> (start: Int, count: Int) {
        guard let p = try target(id) else { return (0, 0) }
        let n = Int(try reader.read(UInt32.self, at: p))
        guard n <= (reader.bytes.count - p - 4) / stride else { throw reader.fail("vector of \(n) structs at \(p) past the end") }
        return (p + 4, n)
    }
}
