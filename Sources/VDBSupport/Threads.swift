import Foundation

/// The number of threads to use for a `--threads`-style request: `requested` when positive,
/// otherwise (0 or negative) every active processor core.
package func resolvedThreads(_ requested: Int) -> Int {
    if requested > 0 { return requested }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
}
