// Index records: an in-memory record store (tests, tools) and the helpers the indexes use to
// encode and decode their records.

import Synchronization
import VDBSupport

/// An in-memory implementation of both record protocols, for tests, benchmarks and tools that
/// keep an index outside LMDB. It also counts writes, so tests can check that an update rewrites
/// only the records it changed.
package final class InMemoryIndexRecords: IndexRecordWriter, IndexRecordReader, @unchecked Sendable {
    // All state is guarded by `lock`; values are separately allocated so that buffers handed out
    // by `get`/`forEach` stay valid until the record is replaced or deleted.
    private var records: [[UInt8]: UnsafeMutableRawBufferPointer] = [:]
    private let lock = Mutex<Void>(())
    /// Number of `put` calls so far.
    package private(set) var putCount = 0
    /// Number of `delete` calls so far.
    package private(set) var deleteCount = 0

    package init() {}
    deinit { for v in records.values { Self.free(v) } }

    private static func free(_ v: UnsafeMutableRawBufferPointer) {
        UnsafeMutableRawPointer(v.baseAddress! - 1).deallocate()
    }

    /// Number of records held.
    package var recordCount: Int { lock.withLock { _ in records.count } }
    /// Total bytes of all values.
    package var totalBytes: Int { lock.withLock { _ in records.values.reduce(0) { $0 + $1.count } } }
    /// The largest value, in bytes.
    package var largestValue: Int { lock.withLock { _ in records.values.map(\.count).max() ?? 0 } }
    /// Resets the write counters.
    package func resetCounters() { lock.withLock { _ in putCount = 0; deleteCount = 0 } }

    package func put(_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws {
        // Values are stored at an odd address on purpose: LMDB gives no alignment guarantee, so
        // indexes must read records with unaligned loads, and tests should catch it if they don't.
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: value.count + 1, alignment: 16)
        if value.count > 0 { (copy.baseAddress! + 1).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        let stored = UnsafeMutableRawBufferPointer(start: copy.baseAddress! + 1, count: value.count)
        lock.withLock { _ in
            if let old = records.updateValue(stored, forKey: key) { Self.free(old) }
            putCount += 1
        }
    }

    package func delete(_ key: [UInt8]) throws {
        lock.withLock { _ in
            if let old = records.removeValue(forKey: key) { Self.free(old) }
            deleteCount += 1
        }
    }

    package func deleteAll() throws {
        lock.withLock { _ in
            for v in records.values { Self.free(v) }
            records.removeAll()
        }
    }

    package func get(_ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        lock.withLock { _ in records[key].map { UnsafeRawBufferPointer($0) } }
    }

    package func forEach(prefix: [UInt8], _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Void) throws {
        let matching: [([UInt8], UnsafeRawBufferPointer)] = lock.withLock { _ in
            records.filter { $0.key.starts(with: prefix) }
                .map { ($0.key, UnsafeRawBufferPointer($0.value)) }
                .sorted { $0.0.lexicographicallyPrecedes($1.0) }
        }
        for (k, v) in matching { try body(k, v) }
    }
}

// MARK: - Record encoding

/// Record keys: a one-byte tag followed by big-endian numbers, so key order is numeric order.
@usableFromInline
enum RecordKey {
    static func make(_ tag: UInt8, _ numbers: UInt32...) -> [UInt8] {
        var k: [UInt8] = [tag]
        k.reserveCapacity(1 + 4 * numbers.count)
        for n in numbers { k.append(contentsOf: [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]) }
        return k
    }

    /// The big-endian number at byte `offset` of `key`, or nil if the key is too short.
    static func number(_ key: [UInt8], at offset: Int) -> UInt32? {
        guard key.count >= offset + 4 else { return nil }
        return UInt32(key[offset]) << 24 | UInt32(key[offset + 1]) << 16 | UInt32(key[offset + 2]) << 8 | UInt32(key[offset + 3])
    }

    static func describe(_ key: [UInt8]) -> String {
        guard let t = key.first else { return "<empty>" }
        return String(UnicodeScalar(t)) + key.dropFirst().map { String($0, radix: 16) }.joined(separator: ".")
    }
}

/// Appends little-endian values to a byte array.
struct RecordBuilder {
    var bytes: [UInt8] = []
    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }
    mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func append(_ v: Float) { append(v.bitPattern) }
    mutating func append(raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }
    mutating func append(floats: UnsafeBufferPointer<Float>) { append(raw: UnsafeRawBufferPointer(floats)) }
    func write(_ key: [UInt8], to writer: IndexRecordWriter) throws {
        try bytes.withUnsafeBytes { try writer.put(key, $0) }
    }
}

/// Reads little-endian values from an index record with bounds checks (a short record is corrupt,
/// not a crash): a `ByteCursor` reporting `VDBError.corruptIndexRecord` with the record's key.
typealias RecordCursor = ByteCursor

extension ByteCursor {
    init(_ buffer: UnsafeRawBufferPointer, key: [UInt8]) {
        self.init(buffer) { VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "truncated: \($0.description)") }
    }
}
