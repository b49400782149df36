// Shared pieces of the approximate indexes: locks, a scratch pool, a seeded RNG and a small
// parallel-for.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import CVDBKernels
import Synchronization

// MARK: - Locks

// (Plain mutual exclusion uses `Synchronization.Mutex`.)

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
    // `free` is guarded by `lock`; each scratch object is used by one thread at a time.
    private var free: [T] = []
    private let lock = Mutex<Void>(())
    private let make: () -> T
    init(_ make: @escaping () -> T) { self.make = make }
    @inline(__always) func with<R>(_ body: (T) throws -> R) rethrows -> R {
        let s = lock.withLock { _ in free.popLast() } ?? make()
        defer { lock.withLock { _ in free.append(s) } }
        return try body(s)
    }
    func removeAll() { lock.withLock { _ in free.removeAll() } }
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

