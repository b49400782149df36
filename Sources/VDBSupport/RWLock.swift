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
package final class RWLock: @unchecked Sendable {
    private let l: UnsafeMutablePointer<pthread_rwlock_t>
    package init() {
        l = .allocate(capacity: 1)
        l.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(l, nil)
    }
    deinit { pthread_rwlock_destroy(l); l.deallocate() }
    @inline(__always) package func read<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(l)
        defer { pthread_rwlock_unlock(l) }
        return try body()
    }
    @inline(__always) package func write<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(l)
        defer { pthread_rwlock_unlock(l) }
        return try body()
    }
}
