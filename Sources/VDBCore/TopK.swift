/// A bounded selection of the `k` best candidates, kept as a max-heap on (score, id).
///
/// Scores follow the internal convention "smaller is closer" (see ``KernelMetric/score(_:_:dim:)``).
/// Ties are broken by the smaller id, so results are deterministic whatever the scan order.
/// Storage is allocated once; `push` does no allocation.
package struct TopK: Sendable {
    package let k: Int
    @usableFromInline var scores: ContiguousArray<Float>
    @usableFromInline var ids: ContiguousArray<UInt64>

    /// Creates an empty selection of at most `k` (> 0) candidates.
    package init(k: Int) {
        precondition(k > 0, "TopK needs k > 0")
        self.k = k
        scores = []
        ids = []
        scores.reserveCapacity(k)
        ids.reserveCapacity(k)
    }

    /// Number of candidates held (at most `k`).
    @inlinable package var count: Int { scores.count }
    /// Whether `k` candidates are held.
    @inlinable package var isFull: Bool { scores.count == k }
    /// The worst score held, or +infinity while fewer than `k` are held: a candidate whose score
    /// is greater than this cannot enter.
    @inlinable package var threshold: Float { scores.count == k ? scores[0] : .infinity }

    @inlinable
    static func worse(_ s1: Float, _ i1: UInt64, than s2: Float, _ i2: UInt64) -> Bool {
        s1 > s2 || (s1 == s2 && i1 > i2)
    }

    /// Offers a candidate; keeps it if it is among the best `k` seen so far.
    @inlinable
    package mutating func push(score: Float, id: UInt64) {
        if scores.count < k {
            scores.append(score)
            ids.append(id)
            siftUp(scores.count - 1)
        } else if TopK.worse(scores[0], ids[0], than: score, id) {
            scores[0] = score
            ids[0] = id
            siftDown(0)
        }
    }

    @inlinable
    mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let p = (i - 1) >> 1
            if TopK.worse(scores[i], ids[i], than: scores[p], ids[p]) {
                scores.swapAt(i, p)
                ids.swapAt(i, p)
                i = p
            } else { return }
        }
    }

    @inlinable
    mutating func siftDown(_ start: Int) {
        var i = start
        let n = scores.count
        while true {
            let l = 2 * i + 1
            if l >= n { return }
            var m = l
            let r = l + 1
            if r < n && TopK.worse(scores[r], ids[r], than: scores[l], ids[l]) { m = r }
            if TopK.worse(scores[m], ids[m], than: scores[i], ids[i]) {
                scores.swapAt(i, m)
                ids.swapAt(i, m)
                i = m
            } else { return }
        }
    }

    /// The candidates, best first, as (score, id) pairs in internal score units.
    package func sorted() -> [(score: Float, id: UInt64)] {
        var out = (0..<scores.count).map { (score: scores[$0], id: ids[$0]) }
        out.sort { $0.score < $1.score || ($0.score == $1.score && $0.id < $1.id) }
        return out
    }

    /// The candidates, best first, as user-facing neighbours under `metric`.
    package func neighbors(_ metric: KernelMetric) -> [Neighbor] {
        sorted().map { Neighbor(id: $0.id, distance: metric.reported($0.score)) }
    }
}
