#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A readers-writer lock: readers share it, a writer takes it exclusively.
///
/// Hand-made over `pthread_rwlock_t` because `Synchronization` has only the exclusive `Mutex`.
/// `@unchecked Sendable`: the pthread lock is the synchronization; the pointer is allocated once
/// in `init`, never reassigned, and freed in `deinit`.
///
/// **Writer-preferring.** On glibc the lock is `PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP`:
/// once a writer waits, new readers wait behind it. (glibc's default prefers readers, so under
/// overlapping searches an index insert could wait for seconds: `vdb serve`'s load test got 49 of
/// 200 upsert batches through in 20 s.) The price is that a thread taking a read lock it already
/// holds would deadlock while a writer waits.
///
/// **The rule for callers: never acquire a lock this thread already holds, and never take a lock
/// while holding another one whose order could invert with a writer.** A critical section must
/// not call anything that takes the same lock again (a public entry point, a protocol witness, a
/// user closure); the lock is taken once, at the top. As a safety net for user callbacks that
/// break the rule (a `SearchFilter` that searches its own collection), the lock remembers per
/// thread which locks the thread holds: a nested `read` or `write` of a lock the thread already
/// holds runs its body without locking again, and a `write` nested in a `read` of the same lock
/// (an upgrade, a deadlock in any readers-writer lock) stops the program with a message.
///
/// Audit of the users (December 2026), every critical section checked for re-entry:
/// - `HNSWIndex.rw`: `search`, `filteredSearch`, `count`, `memoryBytes`, `checkInvariants`,
///   `unreachableLiveSlots` read; `add`, `remove`, `build`, `load` write. Inside: graph code and
///   the scratch pool's `Mutex` only (taken and released without calling out). `insertBatch`'s
///   worker threads take no lock; `writeDirty`/`writeAll` only put LMDB records.
/// - `IVFCore.lock` (IVF_FLAT, IVF_SQ8): `search`, `search(queries:)`, `filteredSearch`,
///   `memoryBytes`, `IVFIndexBase.count`, `checkInvariants` read; `add`, `remove`, `didCommit`,
///   `build` write. `search(queries:)` with few queries calls `search(query:)` before taking the
///   lock, not inside it. `Database+Merge` reads a shard's core and writes a new, unshared one.
/// - The only code run under a read lock that is not the index's own: the per-slot filter of
///   `Collection.indexSearch` (`CandidateFilter.metadata`), which reads the slot's metadata from the
///   caller's read transaction and calls the user's `SearchFilter`. vdb's own filters (`Filter`,
///   the server's `FilterSpec.predicate`, find-similar) never call back into a collection.
/// - Writes take an index's write lock only on the thread holding the environment's write lock
///   (`Collection.write`, `didCommit`), so two writers never wait on each other through an index.
/// A `SearchFilter` must still not write to the database (the writer would wait for the read lock
/// its own search holds) or search another collection.
package final class RWLock: @unchecked Sendable {
    private let l: UnsafeMutablePointer<pthread_rwlock_t>

    package init() {
        l = .allocate(capacity: 1)
        l.initialize(to: pthread_rwlock_t())
        var attr = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attr)
        #if canImport(Glibc)
        pthread_rwlockattr_setkind_np(&attr, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        let rc = pthread_rwlock_init(l, &attr)
        pthread_rwlockattr_destroy(&attr)
        precondition(rc == 0, "pthread_rwlock_init failed with error \(rc)")
    }

    deinit { pthread_rwlock_destroy(l); l.deallocate() }

    /// Runs `body` holding the lock shared.
    @inline(__always) package func read<R>(_ body: () throws -> R) rethrows -> R {
        let held = HeldLocks.current()
        if held.mode(of: l) != nil { return try body() }
        let rc = pthread_rwlock_rdlock(l)
        precondition(rc == 0, "pthread_rwlock_rdlock failed with error \(rc)")
        held.push(l, exclusive: false)
        defer { held.pop(l); pthread_rwlock_unlock(l) }
        return try body()
    }

    /// Runs `body` holding the lock exclusively. Waiting blocks new readers.
    @inline(__always) package func write<R>(_ body: () throws -> R) rethrows -> R {
        let held = HeldLocks.current()
        if let exclusive = held.mode(of: l) {
            precondition(exclusive, "RWLock.write called by a thread holding the same lock for reading (an upgrade deadlocks)")
            return try body()
        }
        let rc = pthread_rwlock_wrlock(l)
        precondition(rc == 0, "pthread_rwlock_wrlock failed with error \(rc)")
        held.push(l, exclusive: true)
        defer { held.pop(l); pthread_rwlock_unlock(l) }
        return try body()
    }

    /// Runs `body` holding the lock shared if that is possible without waiting; nil when a writer
    /// holds the lock or (writer preference) waits for it.
    package func tryRead<R>(_ body: () throws -> R) rethrows -> R? {
        let held = HeldLocks.current()
        if held.mode(of: l) != nil { return try body() }
        let rc = pthread_rwlock_tryrdlock(l)
        if rc == EBUSY { return nil }
        precondition(rc == 0, "pthread_rwlock_tryrdlock failed with error \(rc)")
        held.push(l, exclusive: false)
        defer { held.pop(l); pthread_rwlock_unlock(l) }
        return try body()
    }
}

/// The `RWLock`s the current thread holds, innermost last (critical sections are closures, so
/// they nest). One instance per thread, reached through a pthread key and released when the
/// thread exits; never shared between threads.
private final class HeldLocks {
    private var locks: [(lock: UnsafeMutablePointer<pthread_rwlock_t>, exclusive: Bool)] = []

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { p in
            if let p { Unmanaged<HeldLocks>.fromOpaque(p).release() }
        }
        precondition(rc == 0, "pthread_key_create failed with error \(rc)")
        return key
    }()

    static func current() -> HeldLocks {
        if let p = pthread_getspecific(key) { return Unmanaged<HeldLocks>.fromOpaque(p).takeUnretainedValue() }
        let held = HeldLocks()
        pthread_setspecific(key, Unmanaged.passRetained(held).toOpaque())
        return held
    }

    /// nil when this thread does not hold `lock`; else whether it holds it exclusively.
    func mode(of lock: UnsafeMutablePointer<pthread_rwlock_t>) -> Bool? {
        for entry in locks where entry.lock == lock { return entry.exclusive }
        return nil
    }

    func push(_ lock: UnsafeMutablePointer<pthread_rwlock_t>, exclusive: Bool) { locks.append((lock, exclusive)) }

    func pop(_ lock: UnsafeMutablePointer<pthread_rwlock_t>) {
        precondition(locks.last?.lock == lock, "RWLock sections released out of order")
        locks.removeLast()
    }
}
