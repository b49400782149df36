import Dispatch
import Synchronization

/// Runs `body(i)` for i in 0..<count on `threads` workers that claim indices in order from a
/// shared counter (dynamic load balancing, for items of uneven cost). With one thread, runs inline
/// in order. Returns after every call finished.
package func parallelFor(count: Int, threads: Int, _ body: (Int) -> Void) {
    let t = min(max(1, threads), count)
    if t <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    let next = Atomic<Int>(0)
    withoutActuallyEscaping(body) { body in
        let box = UnsafeTransfer(body)  // `body` may capture non-Sendable state its caller synchronizes
        DispatchQueue.concurrentPerform(iterations: t) { _ in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= count { break }
                box.value(i)
            }
        }
    }
}

/// Runs `body(begin, end)` over `count` items split into at most `threads` contiguous ranges of at
/// least `minPerThread` items (static partition, for items of equal cost), on the calling thread
/// when one range suffices. Returns after every call finished.
@inline(__always)
package func parallelRanges(_ count: Int, threads: Int, minPerThread: Int = 1, _ body: @Sendable (Int, Int) -> Void) {
    let parts = max(1, min(threads, count / max(1, minPerThread)))
    if parts <= 1 {
        if count > 0 { body(0, count) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: parts) { k in
        let begin = count * k / parts, end = count * (k + 1) / parts
        if end > begin { body(begin, end) }
    }
}
