import Synchronization

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
