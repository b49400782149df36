// Dense in-memory matrices used by the benchmark harness: vectors to index or query, and
// rows of neighbour ids (ground truth or search results).

/// A dense, row-major matrix of `count` float vectors of `dimension` components each.
///
/// The benchmark harness holds whole datasets in memory in this form; search calls read rows
/// through `withUnsafeBufferPointer` so hot loops see one contiguous buffer.
struct BenchVectors: Sendable, Equatable {
    /// Number of vectors (rows).
    private(set) var count: Int
    /// Components per vector (columns).
    let dimension: Int
    /// `count * dimension` floats, row `i` at `i * dimension ..< (i + 1) * dimension`.
    private(set) var data: [Float]

    /// Wraps `data` (row-major). Throws if its length is not a multiple of `dimension`.
    init(dimension: Int, data: [Float]) throws(BenchError) {
        guard dimension > 0 else { throw .invalidArgument("vector dimension must be positive, got \(dimension)") }
        guard data.count % dimension == 0 else {
            throw .invalidArgument("\(data.count) floats do not form whole vectors of dimension \(dimension)")
        }
        self.dimension = dimension
        self.count = data.count / dimension
        self.data = data
    }

    /// Row `i` as an array (convenience for tests and small tools; hot paths use the buffer).
    func row(_ i: Int) -> [Float] { Array(data[i * dimension ..< (i + 1) * dimension]) }

    /// The first `n` rows (all if `n >= count`).
    func prefix(_ n: Int) -> BenchVectors {
        let m = max(0, min(n, count))
        var copy = self
        copy.data = Array(data[0 ..< m * dimension])
        copy.count = m
        return copy
    }

    /// Returns a copy whose rows are scaled to unit L2 norm (zero rows stay zero), as the
    /// `cosine` metric stores and searches them.
    func normalized() -> BenchVectors {
        var copy = self
        let d = dimension
        copy.data.withUnsafeMutableBufferPointer { buf in
            for r in 0 ..< count {
                let row = UnsafeMutableBufferPointer(rebasing: buf[r * d ..< (r + 1) * d])
                var s: Double = 0
                for x in row { s += Double(x) * Double(x) }
                guard s > 0 else { continue }
                let inv = Float(1.0 / s.squareRoot())
                for j in row.indices { row[j] *= inv }
            }
        }
        return copy
    }
}

/// Rows of neighbour ids, `width` per row (ground truth as stored in `.ivecs`, or search results).
struct BenchNeighborRows: Sendable, Equatable {
    /// Number of rows (queries).
    let count: Int
    /// Ids per row.
    let width: Int
    /// `count * width` ids, row-major, best first within a row.
    let ids: [Int32]

    /// Wraps `ids` (row-major). Throws if the length is not `count * width`.
    init(width: Int, ids: [Int32]) throws(BenchError) {
        guard width > 0 else { throw .invalidArgument("neighbour rows need a positive width, got \(width)") }
        guard ids.count % width == 0 else {
            throw .invalidArgument("\(ids.count) ids do not form whole rows of width \(width)")
        }
        self.width = width
        self.count = ids.count / width
        self.ids = ids
    }

    /// Row `i` as an array.
    func row(_ i: Int) -> ArraySlice<Int32> { ids[i * width ..< (i + 1) * width] }
}
