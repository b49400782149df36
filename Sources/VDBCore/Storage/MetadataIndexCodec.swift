// The on-disk encoding of the metadata index, in one place: the field schema record, the keys of
// the `fields` DBI, keyword posting containers and numeric column chunks. Everything that reads
// or writes these bytes goes through this file, so a checksum or a new record version wraps here.
//
// Records (all keys start with the collection id, u32 BE, then the field number, u16 BE):
//
//   state  DBI  cid + "f"                         schema: JSON {"version":1,"next_number":N,
//                                                 "fields":[{"name":..,"type":..,"number":..}]}
//   fields DBI  cid + field + "v" + chunk(u16 BE) + value   keyword posting: the slots of chunk
//                                                 (slot >> 16) whose value has this canonical text
//   fields DBI  cid + field + "p" + chunk(u16 BE)  keyword presence: the slots of the chunk that
//                                                 have the field (any value)
//   fields DBI  cid + field + "c" + chunk(u32 BE)  numeric column (int, float, time): slots
//                                                 chunk * 4096 ..< chunk * 4096 + 4096
//
// A posting container holds offsets within its 65536-slot chunk: tag 0 + sorted u16 LE offsets
// (at most 4096 of them), or tag 1 + a 65536-bit bitmap (1024 u64 LE) above that. A column chunk
// is a 4096-bit presence bitmap (64 u64 LE) followed by one 8-byte LE value per offset up to the
// last present one (i64 for int fields, f64 bits for float and time fields). Absent records mean
// empty containers and chunks.

import Foundation

enum MetadataIndexCodec {
    static let keywordTag: UInt8 = 0x76   // "v"
    static let presenceTag: UInt8 = 0x70  // "p"
    static let columnTag: UInt8 = 0x63    // "c"

    /// Slots per posting container (the high 16 bits of a slot name the container).
    static let containerSlots = 1 << 16
    /// Offsets an array container holds at most; more become a bitmap.
    static let arrayLimit = 4096
    /// Slots per numeric column chunk.
    static let columnShift = 12
    static let columnSlots = 1 << columnShift

    // MARK: keys

    static func fieldPrefix(_ cid: UInt32, _ field: UInt16) -> [UInt8] {
        var k = Keys.collection(cid)
        appendBE(&k, field)
        return k
    }

    static func keywordKey(_ cid: UInt32, _ field: UInt16, chunk: UInt16, value: [UInt8]) -> [UInt8] {
        var k = fieldPrefix(cid, field)
        k.append(keywordTag)
        appendBE(&k, chunk)
        k += value
        return k
    }

    static func presenceKey(_ cid: UInt32, _ field: UInt16, chunk: UInt16) -> [UInt8] {
        var k = fieldPrefix(cid, field)
        k.append(presenceTag)
        appendBE(&k, chunk)
        return k
    }

    static func columnKey(_ cid: UInt32, _ field: UInt16, chunk: UInt32) -> [UInt8] {
        var k = fieldPrefix(cid, field)
        k.append(columnTag)
        appendBE(&k, chunk)
        return k
    }

    /// The prefix of every column chunk of a field (chunk numbers follow, u32 BE).
    static func columnPrefix(_ cid: UInt32, _ field: UInt16) -> [UInt8] { fieldPrefix(cid, field) + [columnTag] }

    /// The chunk number of a column chunk key.
    static func columnChunk(_ key: UnsafeRawBufferPointer) throws -> UInt32 {
        guard key.count == 11 else { throw VDBError.corrupt("metadata index column key of \(key.count) bytes") }
        return Keys.readBE32(key, at: 7)
    }

    // MARK: schema

    private struct SchemaRecord: Codable {
        var version: Int
        var nextNumber: UInt16
        var fields: [IndexedField]
        enum CodingKeys: String, CodingKey { case version, fields, nextNumber = "next_number" }
    }

    static func encode(_ schema: FieldSchema) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(SchemaRecord(version: 1, nextNumber: schema.nextNumber, fields: schema.fields)))
    }

    static func decodeSchema(_ raw: UnsafeRawBufferPointer) throws -> FieldSchema {
        let record: SchemaRecord
        do { record = try JSONDecoder().decode(SchemaRecord.self, from: Data(raw)) } catch {
            throw VDBError.corrupt("field schema does not decode: \(error)")
        }
        guard record.version == 1 else { throw VDBError.corrupt("field schema version \(record.version) is not supported (1)") }
        return FieldSchema(fields: record.fields, nextNumber: record.nextNumber)
    }

    // MARK: posting containers

    /// Adds the offsets of a stored container (nil: none) to `words`, a bitmap of 1024 words.
    static func decodeContainer(_ raw: UnsafeRawBufferPointer?, into words: UnsafeMutableBufferPointer<UInt64>) throws {
        guard let raw, raw.count > 0 else { return }
        switch raw[0] {
        case 0:
            guard (raw.count - 1) % 2 == 0, (raw.count - 1) / 2 <= arrayLimit else {
                throw VDBError.corrupt("metadata index posting of \(raw.count) bytes")
            }
            var p = 1
            while p < raw.count {
                let o = Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: UInt16.self)))
                words[o >> 6] |= 1 << UInt64(o & 63)
                p += 2
            }
        case 1:
            guard raw.count == 1 + 8 * 1024 else { throw VDBError.corrupt("metadata index bitmap of \(raw.count) bytes") }
            for w in 0..<1024 {
                words[w] |= UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 1 + 8 * w, as: UInt64.self))
            }
        case let t:
            throw VDBError.corrupt("metadata index posting with tag \(t)")
        }
    }

    /// The stored form of a container whose offsets are the bits of `words` (1024 words), or nil
    /// when it is empty (the record is then deleted).
    static func encodeContainer(_ words: UnsafeBufferPointer<UInt64>) -> [UInt8]? {
        var n = 0
        for w in words { n += w.nonzeroBitCount }
        if n == 0 { return nil }
        var out: [UInt8] = []
        if n <= arrayLimit {
            out.reserveCapacity(1 + 2 * n)
            out.append(0)
            for (i, w) in words.enumerated() where w != 0 {
                var bits = w
                while bits != 0 {
                    let b = bits.trailingZeroBitCount
                    appendLE(&out, UInt16(i * 64 + b))
                    bits &= bits - 1
                }
            }
        } else {
            out.reserveCapacity(1 + 8 * 1024)
            out.append(1)
            for w in words { appendLE(&out, w) }
        }
        return out
    }

    // MARK: column chunks

    /// Presence bits and raw 8-byte values of one column chunk.
    struct Column {
        var present = [UInt64](repeating: 0, count: columnSlots / 64)
        var values = [UInt64](repeating: 0, count: columnSlots)
    }

    static func decodeColumn(_ raw: UnsafeRawBufferPointer?) throws -> Column {
        var c = Column()
        guard let raw else { return c }
        let n = try columnLength(raw)
        for w in 0..<(columnSlots / 64) {
            c.present[w] = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * w, as: UInt64.self))
        }
        for o in 0..<n {
            c.values[o] = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * (columnSlots / 64 + o), as: UInt64.self))
        }
        return c
    }

    /// The stored form of a column chunk, or nil when no slot of it has a value.
    static func encode(_ c: Column) -> [UInt8]? {
        guard let lastWord = c.present.lastIndex(where: { $0 != 0 }) else { return nil }
        let n = lastWord * 64 + (64 - c.present[lastWord].leadingZeroBitCount)
        var out: [UInt8] = []
        out.reserveCapacity(8 * (columnSlots / 64 + n))
        for w in c.present { appendLE(&out, w) }
        for o in 0..<n { appendLE(&out, c.present[o >> 6] & (1 << UInt64(o & 63)) != 0 ? c.values[o] : 0) }
        return out
    }

    /// Number of values a stored column chunk holds (offsets 0..<n).
    static func columnLength(_ raw: UnsafeRawBufferPointer) throws -> Int {
        let header = 8 * (columnSlots / 64)
        guard raw.count >= header, (raw.count - header) % 8 == 0, (raw.count - header) / 8 <= columnSlots else {
            throw VDBError.corrupt("metadata index column chunk of \(raw.count) bytes")
        }
        return (raw.count - header) / 8
    }

    /// Calls `body(offset, raw value)` for every present slot of a stored column chunk.
    static func forEachValue(_ raw: UnsafeRawBufferPointer, _ body: (Int, UInt64) -> Void) throws {
        let n = try columnLength(raw)
        let header = columnSlots / 64
        for w in 0..<header {
            var bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * w, as: UInt64.self))
            while bits != 0 {
                let o = w * 64 + bits.trailingZeroBitCount
                bits &= bits - 1
                guard o < n else { throw VDBError.corrupt("metadata index column chunk marks offset \(o) present beyond its \(n) values") }
                body(o, UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * (header + o), as: UInt64.self)))
            }
        }
    }

    /// The raw 8-byte form of a numeric value (int: i64, float and time: f64 bits).
    static func raw(_ v: IndexedValue) -> UInt64? {
        switch v {
        case .int(let i): return UInt64(bitPattern: i)
        case .double(let d): return d.bitPattern
        case .keyword: return nil
        }
    }

    /// A raw column value as a number, for a field of `type`.
    @inline(__always)
    static func number(_ raw: UInt64, _ type: FieldType) -> Double {
        type == .int ? Double(Int64(bitPattern: raw)) : Double(bitPattern: raw)
    }
}
