/// SplitMix64 (Steele, Lea and Flood): a small seeded generator, so indexes built with the same
/// seed are identical, and benchmark data and test data are the same on every machine.
package struct SplitMix64: RandomNumberGenerator {
    package var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A hash of (seed, value), for per-item randomness independent of processing order.
    package static func mix(_ seed: UInt64, _ v: UInt64) -> UInt64 {
        var g = SplitMix64(seed: seed ^ (v &* 0xD6E8_FEB8_6659_FD93))
        return g.next()
    }
}
