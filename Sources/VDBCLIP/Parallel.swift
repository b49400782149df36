import Foundation

/// A raw pointer that may cross into worker closures. Safe because every parallel loop in this
/// module writes disjoint ranges and the owner outlives the loop (it waits for all workers).
struct SendablePointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

/// Runs `body(begin, end)` over `count` items split into at most `threads` contiguous ranges,
/// on the calling thread when one range suffices.
@inline(__always)
func parallelRanges(_ count: Int, threads: Int, minPerThread: Int = 1, _ body: @Sendable (Int, Int) -> Void) {
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
