// Shared pieces of the approximate indexes: typed errors, an in-memory record store, record
// encoding helpers, locks, a seeded RNG and a small parallel-for.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import CVDBKernels

/// Errors raised by the approximate indexes (IVF_FLAT, IVF_SQ8, HNSW).
public enum IndexError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A build was asked over zero vectors.
    case emptyInput(IndexKind)
    /// A vector buffer does not hold `slots.count * dimension` floats, or a query has the wrong size.
    case dimensionMismatch(expected: Int, got: Int)
    /// IVF: more lists than vectors to train them on.
    case nlistExceedsVectors(nlist: Int, vectors: Int)
    /// A build or search parameter is out of range.
    case invalidParameter(name: String, value: Int, reason: String)
    /// HNSW: the candidate list is smaller than the number of results asked for.
    case efLessThanK(ef: Int, k: Int)
    /// IVF_SQ8: `rerank` was asked but no exact vector source is attached.
    case rerankUnavailable
    /// A persisted record is missing or malformed.
    case corruptRecord(key: String, reason: String)
    /// Persisted records were written for another index kind, dimension or metric.
    case incompatibleRecords(reason: String)

    public var description: String {
        switch self {
        case .emptyInput(let kind):
            return "cannot build a \(kind) index over zero vectors: add vectors to the collection first"
        case .dimensionMismatch(let expected, let got):
            return "dimension mismatch: the index expects \(expected)-d vectors, got \(got) floats"
        case .nlistExceedsVectors(let nlist, let vectors):
            return "nlist \(nlist) exceeds the number of vectors (\(vectors)): use nlist <= \(vectors) (about sqrt(n) to 4*sqrt(n) is typical)"
        case .invalidParameter(let name, let value, let reason):
            return "invalid \(name) \(value): \(reason)"
        case .efLessThanK(let ef, let k):
            return "ef \(ef) is smaller than k \(k): HNSW needs ef >= k"
        case .rerankUnavailable:
            return "rerank needs the exact vectors, but no exact vector source is attached to this IVF_SQ8 index"
        case .corruptRecord(let key, let reason):
            return "corrupt index record \(key): \(reason)"
        case .incompatibleRecords(let reason):
            return "index records do not match: \(reason)"
        }
    }
}

/// Gives an IVF_SQ8 index access to the exact stored vectors for re-ranking.
///
/// Storage implements it over its vector blocks (inside one read transaction per call); tests and
/// benchmarks use ``InMemoryVectorSource``.
public protocol ExactVectorSource: Sendable {
    /// Calls `body(i, vector)` for each `slots[i]` with its exact `dimension`-float vector (already
    /// normalized for cosine), or nil when the slot holds no vector. Pointers are valid only during `body`.
    func withVectors(slots: UnsafeBufferPointer<UInt32>,
                     _ body: (_ index: Int, _ vector: UnsafePointer<Float>?) throws -> Void) throws
}

/// An ``ExactVectorSource`` over vectors held in memory, row `slot` at `slot * dimension`.
public final class InMemoryVectorSource: ExactVectorSource, @unchecked Sendable {
    // Immutable after init: safe to read from many threads.
    private let data: UnsafeMutableBufferPointer<Float>
    /// Floats per vector.
    public let dimension: Int
    /// Number of slots held.
    public let count: Int

    /// Copies `vectors` (row-major, `dimension` floats each; row i is slot i).
    public init(dimension: Int, vectors: UnsafeBufferPointer<Float>) {
        self.dimension = dimension
        self.count = dimension > 0 ? vectors.count / dimension : 0
        data = .allocate(capacity: max(1, vectors.count))
        if let base = vectors.baseAddress { data.baseAddress!.initialize(from: base, count: vectors.count) }
    }
    deinit { data.deallocate() }

    public func withVectors(slots: UnsafeBufferPointer<UInt32>,
                            _ body: (Int, UnsafePointer<Float>?) throws -> Void) throws {
        for (i, s) in slots.enumerated() {
            if Int(s) < count { try body(i, UnsafePointer(data.baseAddress! + Int(s) * dimension)) } else { try body(i, nil) }
        }
    }
}

/// An in-memory implementation of both record protocols, for tests, benchmarks and tools that
/// keep an index outside LMDB. It also counts writes, so tests can check that an update rewrites
/// only the records it changed.
public final class InMemoryIndexRecords: IndexRecordWriter, IndexRecordReader, @unchecked Sendable {
    // All state is guarded by `lock`; values are separately allocated so that buffers handed out
    // by `get`/`forEach` stay valid until the record is replaced or deleted.
    private var records: [[UInt8]: UnsafeMutableRawBufferPointer] = [:]
    private let lock = Mutex()
    /// Number of `put` calls so far.
    public private(set) var putCount = 0
    /// Number of `delete` calls so far.
    public private(set) var deleteCount = 0

    public init() {}
    deinit { for v in records.values { Self.free(v) } }

    private static func free(_ v: UnsafeMutableRawBufferPointer) {
        UnsafeMutableRawPointer(v.baseAddress! - 1).deallocate()
    }

    /// Number of records held.
    public var recordCount: Int { lock.withLock { records.count } }
    /// Total bytes of all values.
    public var totalBytes: Int { lock.withLock { records.values.reduce(0) { $0 + $1.count } } }
    /// The largest value, in bytes.
    public var largestValue: Int { lock.withLock { records.values.map(\.count).max() ?? 0 } }
    /// Resets the write counters.
    public func resetCounters() { lock.withLock { putCount = 0; deleteCount = 0 } }

    public func put(_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws {
        // Values are stored at an odd address on purpose: LMDB gives no alignment guarantee, so
        // indexes must read records with unaligned loads, and tests should catch it if they don't.
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: value.count + 1, alignment: 16)
        if value.count > 0 { (copy.baseAddress! + 1).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        let stored = UnsafeMutableRawBufferPointer(start: copy.baseAddress! + 1, count: value.count)
        lock.withLock {
            if let old = records.updateValue(stored, forKey: key) { Self.free(old) }
            putCount += 1
        }
    }

    public func delete(_ key: [UInt8]) throws {
        lock.withLock {
            if let old = records.removeValue(forKey: key) { Self.free(old) }
            deleteCount += 1
        }
    }

    public func deleteAll() throws {
        lock.withLock {
            for v in records.values { Self.free(v) }
            records.removeAll()
        }
    }

    public func get(_ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        lock.withLock { records[key].map { UnsafeRawBufferPointer($0) } }
    }

    public func forEach(prefix: [UInt8], _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Void) throws {
        let matching: [([UInt8], UnsafeRawBufferPointer)] = lock.withLock {
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

/// Reads little-endian values from a record with bounds checks (a short record is corrupt, not a crash).
struct RecordCursor {
    let buffer: UnsafeRawBufferPointer
    let key: [UInt8]
    var offset = 0
    init(_ buffer: UnsafeRawBufferPointer, key: [UInt8]) { self.buffer = buffer; self.key = key }

    var remaining: Int { buffer.count - offset }

    mutating func need(_ n: Int) throws {
        guard n >= 0, offset + n <= buffer.count else {
            throw IndexError.corruptRecord(key: RecordKey.describe(key), reason: "truncated: need \(n) bytes at offset \(offset), record has \(buffer.count)")
        }
    }
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        let v = buffer.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }
    mutating func readFloat() throws -> Float { Float(bitPattern: try read(UInt32.self)) }
    /// The next `n` bytes, advancing past them.
    mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        try need(n)
        let r = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)])
        offset += n
        return r
    }
    /// Copies `n` floats into `dst`.
    mutating func copyFloats(_ n: Int, to dst: UnsafeMutablePointer<Float>) throws {
        let b = try bytes(n * 4)
        if n > 0 { UnsafeMutableRawPointer(dst).copyMemory(from: b.baseAddress!, byteCount: n * 4) }
    }
}

// MARK: - Locks

/// A non-recursive mutex over `pthread_mutex_t`.
final class Mutex: @unchecked Sendable {
    // The pthread object lives at a stable heap address, as POSIX requires.
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }
    deinit { pthread_mutex_destroy(m); m.deallocate() }
    @inline(__always) func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}

/// A readers-writer lock: searches share it, structural changes take it exclusively.
final class RWLock: @unchecked Sendable {
    private let l: UnsafeMutablePointer<pthread_rwlock_t>
    init() {
        l = .allocate(capacity: 1)
        l.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(l, nil)
    }
    deinit { pthread_rwlock_destroy(l); l.deallocate() }
    @inline(__always) func read<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(l)
        defer { pthread_rwlock_unlock(l) }
        return try body()
    }
    @inline(__always) func write<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(l)
        defer { pthread_rwlock_unlock(l) }
        return try body()
    }
}

/// A stack of reusable per-query scratch objects (visited lists, heaps, buffers).
final class ScratchPool<T: AnyObject>: @unchecked Sendable {
    private var free: [T] = []
    private let lock = Mutex()
    private let make: () -> T
    init(_ make: @escaping () -> T) { self.make = make }
    @inline(__always) func with<R>(_ body: (T) throws -> R) rethrows -> R {
        let s = lock.withLock { free.popLast() } ?? make()
        defer { lock.withLock { free.append(s) } }
        return try body(s)
    }
    func removeAll() { lock.withLock { free.removeAll() } }
}

// MARK: - Randomness and threads

/// SplitMix64: a small seeded generator, so indexes built with the same seed are identical.
/// `package` so that VDBBench seeds its generator from the same one.
package struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A hash of (seed, value), for per-item randomness independent of processing order.
    static func mix(_ seed: UInt64, _ v: UInt64) -> UInt64 {
        var g = SplitMix64(seed: seed ^ (v &* 0xD6E8_FEB8_6659_FD93))
        return g.next()
    }
}

/// Number of threads to use for `requested` (0 = all online cores).
func resolvedThreads(_ requested: Int) -> Int {
    if requested > 0 { return requested }
    return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// Unchecked box to move a non-Sendable value into concurrent workers whose accesses are
/// synchronized by other means (disjoint indices or explicit locks).
struct UncheckedSendable<T>: @unchecked Sendable { var value: T }

/// Runs `body(i)` for i in 0..<count on `threads` workers that claim indices in order from a
/// shared counter (dynamic load balancing). With one thread, runs inline in order.
func parallelFor(count: Int, threads: Int, _ body: (Int) -> Void) {
    let t = min(max(1, threads), count)
    if t <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    let counter = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    counter.initialize(to: 0)
    defer { counter.deallocate() }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(value: (body, counter))
        DispatchQueue.concurrentPerform(iterations: t) { _ in
            let (body, counter) = box.value
            while true {
                let i = Int(vdb_atomic_fetch_add(counter, 1))
                if i >= count { break }
                body(i)
            }
        }
    }
}

