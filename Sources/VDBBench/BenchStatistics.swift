// Accuracy and latency statistics computed the way ann-benchmarks and the ann-dev README do.

/// Recall and percentile computations of the benchmark harness; the percentiles are public for
/// the benchmark executables (`Benchmarks/<name>/Sources`).
public enum BenchStatistics {
    /// Mean recall@k: for each query, |returned ids ∩ first `k` ground-truth ids| / k, averaged
    /// over the queries. A result row may hold fewer than `k` ids (they count as misses) and
    /// duplicates in a row count once.
    ///
    /// - Throws: if the row counts differ or the ground truth has fewer than `k` ids per row.
    static func recall(results: [[Int64]], groundTruth: BenchNeighborRows, k: Int) throws(BenchError) -> Double {
        guard k > 0 else { throw .invalidArgument("recall@k needs k > 0, got \(k)") }
        guard results.count == groundTruth.count else {
            throw .mismatch("\(results.count) result rows but \(groundTruth.count) ground-truth rows")
        }
        guard groundTruth.width >= k else {
            throw .mismatch("ground truth has \(groundTruth.width) neighbours per query, fewer than k = \(k)")
        }
        guard !results.isEmpty else { return 0 }
        var total = 0
        for (i, row) in results.enumerated() {
            let truth = groundTruth.row(i).prefix(k)
            var seen = Set<Int64>()
            for id in row.prefix(k) where seen.insert(id).inserted {
                if truth.contains(where: { Int64($0) == id }) { total += 1 }
            }
        }
        return Double(total) / Double(k * results.count)
    }

    /// The `p`-th percentile (0...100) of `values` with linear interpolation between the two
    /// nearest ranks (NumPy's default): rank `p/100 * (n-1)` in the sorted values.
    /// Returns NaN for an empty input.
    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        percentileOfSorted(values.sorted(), p)
    }

    /// ``percentile(_:_:)`` on values already sorted ascending.
    static func percentileOfSorted(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = min(max(p, 0), 100) / 100 * Double(sorted.count - 1)
        let lo = Int(rank.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        let frac = rank - Double(lo)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * frac
    }

    /// The median of `values` (50th percentile), NaN when empty.
    public static func median(_ values: [Double]) -> Double { percentile(values, 50) }
}
