// The encoded entries of one inverted list, and the arena `load` places IVF_FLAT lists in.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VDBSupport

/// One inverted list's encoded entries (`IVFCore.entryBytes` each, in list order): contiguous
/// bytes that grow as an array's do. A class rather than `[UInt8]` so that `IVFCore.load` can
/// fill different lists from several threads at once through their base addresses (the
/// elements of an array of arrays cannot be written concurrently).
///
/// A list either owns its bytes (`malloc`) or lies in an ``IVFListArena`` where `load` placed
/// it at its exact size; the first growth moves it to bytes of its own and gives its pages in
/// the arena back. Not thread-safe on its own: the owning core's lock guards it like the rest
/// of its state (`load` writes disjoint byte ranges before the core is shared).
final class IVFListEntries {
    private var base: UnsafeMutableRawPointer?
    /// The arena `base` lies in (nil: `base` is this list's own `malloc`).
    private var arena: IVFListArena?
    /// Bytes in use.
    private(set) var count = 0
    /// Bytes allocated.
    private(set) var capacity = 0

    init() {}
    deinit { if arena == nil { free(base) } }

    /// Allocates room for at least `bytes` bytes in all.
    func reserveCapacity(_ bytes: Int) {
        guard bytes > capacity else { return }
        if let a = arena, let old = base {
            guard let own = malloc(bytes) else { fatalError("IVF list: out of memory allocating \(bytes) bytes") }
            own.copyMemory(from: old, byteCount: count)
            a.release(old, byteCount: capacity)
            arena = nil
            base = own
        } else if let old = base {
            guard let grown = realloc(old, bytes) else { fatalError("IVF list: out of memory growing to \(bytes) bytes") }
            base = grown
        } else {
            guard let fresh = malloc(bytes) else { fatalError("IVF list: out of memory allocating \(bytes) bytes") }
            base = fresh
        }
        capacity = bytes
    }

    /// Makes this empty list the `byteCount` zero bytes at `offset` in `arena`.
    func place(in arena: IVFListArena, at offset: Int, byteCount: Int) {
        precondition(count == 0 && capacity == 0, "IVF list: placing a list of \(count) bytes")
        precondition(offset >= 0 && byteCount > 0 && offset + byteCount <= arena.byteCount, "IVF list: \(byteCount) bytes at \(offset) outside the arena")
        self.arena = arena
        base = arena.base + offset
        count = byteCount
        capacity = byteCount
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

/// Zeroed memory for all of a core's lists at load (``ZeroedPages``: one anonymous map, zeroed on
/// first touch by whichever thread fills it). Filling a 1M x 384 IVF_FLAT collection's lists in
/// separately allocated arrays spent half of the open in page faults on one thread. No huge pages:
/// the lists are read front to back, and with them the open of a 1M IVF_FLAT collection was
/// bimodal (0.5 s or 1.3-2.0 s, the slow runs in the kernel clearing 2 MiB pages). Lives while a
/// list lies in it.
final class IVFListArena {
    let base: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        base = ZeroedPages.allocate(byteCount: byteCount, hugePages: false)
    }
    deinit { ZeroedPages.deallocate(base, byteCount: byteCount) }

    /// Returns the whole pages of a range a list no longer uses to the system.
    func release(_ start: UnsafeMutableRawPointer, byteCount: Int) {
        #if os(Linux)
        let page = 4096
        let first = (Int(bitPattern: start) + page - 1) / page * page
        let end = (Int(bitPattern: start) + byteCount) / page * page
        if end > first, let p = UnsafeMutableRawPointer(bitPattern: first) { _ = madvise(p, end - first, MADV_DONTNEED) }
        #endif
    }
}
