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
/// Audit of the users (December 2026), every critical section checked for re-entry and lock order:
/// - `HNSWIndex.rw`: `search`, `filteredSearch`, `count`, `memoryBytes`, `checkInvariants`,
///   `unreachableLiveSlots` read; `add`, `remove` write, and `build` on an index nobody else sees
///   yet (`load` fills a new index without the lock). Inside: graph code and the scratch pool's
///   `Mutex` (taken and released without calling out). `insertBatch`'s worker threads take no
///   lock; `writeDirty`/`writeAll` only put LMDB records. Safe.
/// - `IVFCore.lock` (IVF_FLAT, IVF_SQ8): `search`, `search(queries:)`, `filteredSearch`,
///   `memoryBytes`, `IVFIndexBase.count`, `checkInvariants` read; `add`, `remove`, `didCommit`
///   write, and `build` and `Collection.installIVF` on a new core. `search(queries:)` with few
///   queries calls `search(query:)` before taking the lock, not inside it. `Database+Merge` reads
///   a shard's core and, inside, writes a new, unshared one (no order to invert). Safe.
/// - `Collection` never holds its `Mutex`es (`cache`, `loadLock`) while it takes an index lock:
///   `indexView` copies the cached index out, `didCommit` calls the index after the cache lock.
///   Writes take an index's write lock only on the thread holding the environment's write lock
///   (`Collection.write`, `didCommit` in `onCommit`), so two writers never meet at an index.
///   Index locks are taken inside an LMDB transaction (the `ResizeGate`, shared), never the
///   other way round.
/// - The one foreign code run under a read lock: the per-slot filter of `Collection.indexSearch`
///   (`CandidateFilter.metadata`), which reads the slot's metadata in the caller's transaction
///   and calls the user's `SearchFilter`. vdb's own predicates (`Filter.matches`, the server's
///   `FilterSpec.predicate`, find-similar's id check) never call back into a database. A user
///   predicate that searches its own collection re-enters this lock and the `ResizeGate` (both
///   let a thread already inside through); one that writes, or reads another collection, can
///   still deadlock (documented on `SearchFilter`).
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
        let held = HeldSections.current()
        if held.mode(of: self) != nil { return try body() }
        let rc = pthread_rwlock_rdlock(l)
        precondition(rc == 0, "pthread_rwlock_rdlock failed with error \(rc)")
        held.enter(self, exclusive: false)
        defer { held.leave(self); pthread_rwlock_unlock(l) }
        return try body()
    }

    /// Runs `body` holding the lock exclusively. Waiting blocks new readers.
    @inline(__always) package func write<R>(_ body: () throws -> R) rethrows -> R {
        let held = HeldSections.current()
        if let exclusive = held.mode(of: self) {
            precondition(exclusive, "RWLock.write called by a thread holding the same lock for reading (an upgrade deadlocks)")
            return try body()
        }
        let rc = pthread_rwlock_wrlock(l)
        precondition(rc == 0, "pthread_rwlock_wrlock failed with error \(rc)")
        held.enter(self, exclusive: true)
        defer { held.leave(self); pthread_rwlock_unlock(l) }
        return try body()
    }

    /// Runs `body` holding the lock shared if that is possible without waiting; nil when a writer
    /// holds the lock or (writer preference) waits for it.
    package func tryRead<R>(_ body: () throws -> R) rethrows -> R? {
        let held = HeldSections.current()
        if held.mode(of: self) != nil { return try body() }
        let rc = pthread_rwlock_tryrdlock(l)
        if rc == EBUSY { return nil }
        precondition(rc == 0, "pthread_rwlock_tryrdlock failed with error \(rc)")
        held.enter(self, exclusive: false)
        defer { held.leave(self); pthread_rwlock_unlock(l) }
        return try body()
    }
}

/// The shared or exclusive sections the current thread is inside, innermost last, by the object
/// guarding each (an `RWLock`, the LMDB environment's resize gate): how a lock recognises a thread
/// that enters it again. One instance per thread, reached through a pthread key and released when
/// the thread exits; never shared between threads (so not `Sendable`).
package final class HeldSections {
    private var sections: [(guardian: ObjectIdentifier, exclusive: Bool)] = []

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { p in
            if let p { Unmanaged<HeldSections>.fromOpaque(p).release() }
        }
        precondition(rc == 0, "pthread_key_create failed with error \(rc)")
        return key
    }()

    /// The current thread's sections.
    package static func current() -> HeldSections {
        if let p = pthread_getspecific(key) { return Unmanaged<HeldSections>.fromOpaque(p).takeUnretainedValue() }
        let held = HeldSections()
        pthread_setspecific(key, Unmanaged.passRetained(held).toOpaque())
        return held
    }

    /// nil when the thread is not inside a section of `guardian`; else whether that section is
    /// exclusive.
    package func mode(of guardian: AnyObject) -> Bool? {
        let id = ObjectIdentifier(guardian)
        for s in sections where s.guardian == id { return s.exclusive }
        return nil
    }

    /// Records that the thread entered a section of `guardian` (which it must keep alive until
    /// `leave`).
    package func enter(_ guardian: AnyObject, exclusive: Bool) { sections.append((ObjectIdentifier(guardian), exclusive)) }

    /// Records that the thread left its innermost section of `guardian`.
    package func leave(_ guardian: AnyObject) {
        let id = ObjectIdentifier(guardian)
        guard let i = sections.lastIndex(where: { $0.guardian == id }) else {
            preconditionFailure("leaving a section this thread is not in")
        }
        sections.remove(at: i)
    }
}
