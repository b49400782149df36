// The encoded entries of one inverted list.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One inverted list's encoded entries (`IVFCore.entryBytes` each, in list order): contiguous
/// bytes that grow as an array's do. A class rather than `[UInt8]` so that `IVFCore.load` can
/// fill different lists from several threads at once through their base addresses (the
/// elements of an array of arrays cannot be written concurrently), and so that a list sized
/// once at load starts as zero pages from `calloc` instead of being cleared byte by byte.
///
/// Not thread-safe on its own: the owning core's lock guards it like the rest of its state
/// (`load` writes disjoint byte ranges before the core is shared).
final class IVFListEntries {
    private var base: UnsafeMutableRawPointer?
    /// Bytes in use.
    private(set) var count = 0
    /// Bytes allocated.
    private(set) var capacity = 0

    init() {}
    deinit { free(base) }

    /// Allocates room for at least `bytes` bytes in all.
    func reserveCapacity(_ bytes: Int) {
        guard bytes > capacity else { return }
        if let old = base {
            guard let grown = realloc(old, bytes) else { fatalError("IVF list: out of memory growing to \(bytes) bytes") }
            base = grown
        } else {
            guard let fresh = malloc(bytes) else { fatalError("IVF list: out of memory allocating \(bytes) bytes") }
            base = fresh
        }
        capacity = bytes
    }

    /// Makes an empty list `bytes` long, all zero: one `calloc`, whose fresh pages the kernel
    /// zeroes on first touch (a list about to be overwritten is not cleared twice).
    func resizeEmpty(toZeroed bytes: Int) {
        precondition(count == 0, "IVF list: resizeEmpty on a list of \(count) bytes")
        guard bytes > 0 else { return }
        free(base)
        guard let fresh = calloc(bytes, 1) else { fatalError("IVF list: out of memory allocating \(bytes) bytes") }
        base = fresh
        capacity = bytes
        count = bytes
    }

    /// Appends `bytes`, growing the storage geometrically.
    func append(contentsOf bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let needed = count + bytes.count
        if needed > capacity { reserveCapacity(max(needed, 2 * capacity, 64)) }
        (base! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count = needed
    }

    /// Drops the last `bytes` bytes.
    func removeLast(_ bytes: Int) {
        precondition(bytes >= 0 && bytes <= count, "IVF list: removing \(bytes) of \(count) bytes")
        count -= bytes
    }

    /// The bytes in use (valid until the list changes).
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// The bytes in use, writable (valid until the list changes).
    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// Where the bytes start (nil while none are allocated), for `load`'s concurrent fill.
    var baseAddress: UnsafeMutableRawPointer? { base }

    /// A copy of the bytes in use.
    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
