import Foundation
import VDBCore
import VDBSupport

/// Seeded synthetic datasets for the scaling study: a mixture of isotropic Gaussian clusters.
///
/// Cluster centres are drawn from N(0, 1) in every coordinate; each vector picks a cluster
/// uniformly and adds N(0, `spread`²) noise per coordinate. Queries are drawn the same way from
/// the same mixture (independent samples, not base rows). The same specification and seed give
/// bit-identical vectors on every machine (xoshiro256** seeded with SplitMix64, Box-Muller
/// normals, no platform randomness).
public struct BenchSynthetic: Sendable, Hashable {
    /// Number of base vectors.
    public var count: Int
    /// Vector dimension.
    public var dimension: Int
    /// Number of Gaussian clusters.
    public var clusters: Int
    /// Number of query vectors.
    public var queries: Int
    /// Standard deviation of the noise around a cluster centre, per coordinate.
    public var spread: Float
    /// Seed of the generator.
    public var seed: UInt64

    /// A specification; nothing is generated until the harness needs the vectors.
    public init(count: Int, dimension: Int, clusters: Int = 100, queries: Int = 1000, spread: Float = 0.5, seed: UInt64 = 1) {
        self.count = count
        self.dimension = dimension
        self.clusters = clusters
        self.queries = queries
        self.spread = spread
        self.seed = seed
    }

    /// Parses `N:D[:clusters]` (as given to `vdb bench --synthetic`), e.g. `100000:128:1000`.
    public init(spec: String, queries: Int = 1000, seed: UInt64 = 1) throws(BenchError) {
        let parts = spec.split(separator: ":").map { Int($0) }
        guard (2...3).contains(parts.count), parts.allSatisfy({ $0 != nil }) else {
            throw .invalidArgument("synthetic spec '\(spec)' must look like N:D or N:D:clusters, e.g. 100000:128:1000")
        }
        self.init(count: parts[0]!, dimension: parts[1]!, clusters: parts.count == 3 ? parts[2]! : 100,
                  queries: queries, seed: seed)
    }

    /// The largest matrix (in floats) the generator builds: 2^34 floats = 64 GiB.
    static let maxFloats = 1 << 34

    /// Generates the base and query vectors.
    func generate() throws(BenchError) -> (base: BenchVectors, queries: BenchVectors) {
        guard count > 0, dimension > 0, clusters > 0, queries > 0 else {
            throw .invalidArgument("synthetic data needs positive count, dimension, clusters and queries (got \(count), \(dimension), \(clusters), \(queries))")
        }
        guard spread >= 0, spread.isFinite else { throw .invalidArgument("spread must be a finite non-negative number, got \(spread)") }
        for (rows, what) in [(count, "base vectors"), (queries, "queries"), (clusters, "clusters")] {
            guard rows.multipliedReportingOverflow(by: dimension).partialValue <= Self.maxFloats,
                  !rows.multipliedReportingOverflow(by: dimension).overflow else {
                throw .invalidArgument("\(rows) \(what) of dimension \(dimension) exceed \(Self.maxFloats) floats")
            }
        }
        var rng = BenchRandom(seed: seed)
        var centres = [Float](repeating: 0, count: clusters * dimension)
        for i in centres.indices { centres[i] = rng.nextGaussian() }
        func sample(_ n: Int, _ rng: inout BenchRandom) -> [Float] {
            var out = [Float](repeating: 0, count: n * dimension)
            for r in 0 ..< n {
                let c = Int(rng.next() % UInt64(clusters))
                for j in 0 ..< dimension { out[r * dimension + j] = centres[c * dimension + j] + spread * rng.nextGaussian() }
            }
            return out
        }
        // Base and queries come from separate streams so that changing the query count leaves
        // the base vectors unchanged.
        var baseRng = BenchRandom(seed: rng.next()), queryRng = BenchRandom(seed: rng.next())
        return (try BenchVectors(dimension: dimension, data: sample(count, &baseRng)),
                try BenchVectors(dimension: dimension, data: sample(queries, &queryRng)))
    }
}

/// xoshiro256** (Blackman and Vigna) seeded through SplitMix64: fast, reproducible everywhere.
public struct BenchRandom: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    private var spare: Float?

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s = (seeder.next(), seeder.next(), seeder.next(), seeder.next())
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A standard normal sample (Box-Muller; the second value of each pair is kept for the next call).
    public mutating func nextGaussian() -> Float {
        if let g = spare { spare = nil; return g }
        var u1 = nextUnit()
        while u1 <= 0 { u1 = nextUnit() }
        let u2 = nextUnit()
        let r = (-2 * log(u1)).squareRoot()
        let theta = 2 * Double.pi * u2
        spare = Float(r * sin(theta))
        return Float(r * cos(theta))
    }
}
