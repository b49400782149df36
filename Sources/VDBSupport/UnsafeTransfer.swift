/// Moves a value that is not `Sendable` (raw pointers, buffer views, non-Sendable closures) into
/// the workers of a parallel loop.
///
/// `@unchecked Sendable` because safety comes from the call site, not the type: every user hands
/// it to workers that write disjoint parts of a buffer (or only read), and the owner of the
/// memory waits for all workers before the memory goes away (`parallelFor`, `parallelRanges`,
/// `DispatchQueue.concurrentPerform` all return only after every worker finished).
package struct UnsafeTransfer<T>: @unchecked Sendable {
    package let value: T
    @inline(__always) package init(_ value: T) { self.value = value }
}
