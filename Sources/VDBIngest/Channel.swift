import Foundation
import Synchronization

/// A bounded, closable multi-producer multi-consumer queue for the ingest pipeline.
/// `send` blocks while the queue is full, `receive` while it is empty; both return at once
/// after `close()`. Bounding the queues bounds the memory held in flight, whatever the folder size.
final class Channel<T: Sendable>: @unchecked Sendable {  // all state is guarded by `cond` (a condition variable: `Mutex` cannot wait)
    private let cond = NSCondition()
    private var items: [T] = []
    private var head = 0
    private let capacity: Int
    private var closed = false

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Enqueues `item`; false (item dropped) when the channel was closed.
    @discardableResult
    func send(_ item: T) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        while !closed && items.count - head >= capacity { cond.wait() }
        if closed { return false }
        items.append(item)
        cond.broadcast()
        return true
    }

    /// Dequeues the next item; nil once the channel is closed and drained.
    func receive() -> T? {
        cond.lock()
        defer { cond.unlock() }
        while head == items.count && !closed { cond.wait() }
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 64 && head * 2 > items.count { items.removeFirst(head); head = 0 }
        cond.broadcast()
        return item
    }

    /// Ends the stream: pending items can still be received, new ones are refused.
    func close() {
        cond.lock()
        closed = true
        cond.broadcast()
        cond.unlock()
    }

    /// Closes and drops everything pending (used to stop a pipeline after an error).
    func cancel() {
        cond.lock()
        closed = true
        items.removeAll()
        head = 0
        cond.broadcast()
        cond.unlock()
    }
}

/// A thread-safe flag (a class so that every stage of the pipeline shares one).
final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
