import CVDBKernels

/// How closeness between two vectors is measured in a collection.
///
/// - `l2`: squared Euclidean distance, smaller is closer (reported as Faiss reports it, without the square root).
/// - `ip`: inner product, larger is closer.
/// - `cosine`: vectors are L2-normalized on insert and on query, then searched as `ip`;
///   the reported value is the cosine similarity.
public enum Metric: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case l2
    case ip
    case cosine

    public var description: String { rawValue }

    /// Whether vectors (and queries) are normalized before they are stored or searched.
    public var normalizes: Bool { self == .cosine }

    /// Whether a larger reported distance means closer (`ip`, `cosine`).
    public var largerIsCloser: Bool { self != .l2 }

    /// The kernel that ranks under this metric: cosine ranks as inner product on unit vectors.
    package var kernel: KernelMetric { self == .l2 ? .l2 : .ip }
}

/// The two distance kernels every index is built on.
package enum KernelMetric: Sendable, Hashable {
    /// Squared Euclidean distance.
    case l2
    /// Inner product.
    case ip

    /// Ranking score of `a` against `b` where smaller is always closer:
    /// squared L2 for `l2`, the negated inner product for `ip`.
    @inlinable
    package func score(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dim: Int) -> Float {
        switch self {
        case .l2: return vdb_l2sq(a, b, dim)
        case .ip: return -vdb_ip(a, b, dim)
        }
    }

    /// Converts an internal score (smaller is closer) into the distance users see.
    @inlinable
    package func reported(_ score: Float) -> Float { self == .l2 ? score : -score }

    /// Converts a user-facing distance into an internal score (smaller is closer).
    @inlinable
    package func score(fromReported d: Float) -> Float { self == .l2 ? d : -d }
}

/// One search hit: the vector's id and its distance to the query under the collection's metric
/// (squared L2 for `l2`, inner product for `ip`, cosine similarity for `cosine`).
package struct Neighbor: Sendable, Hashable {
    package var id: UInt64
    package var distance: Float
    package init(id: UInt64, distance: Float) {
        self.id = id
        self.distance = distance
    }
}
