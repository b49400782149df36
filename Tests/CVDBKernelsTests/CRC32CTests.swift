import CVDBKernels
import Testing
import VDBSupport

/// CRC32C (the checksum of format-2 records) at every level this CPU runs: the standard check
/// value, chaining, and agreement with a bit-at-a-time reference at every length and alignment
/// around the 8-byte steps.
@Suite struct CRC32CTests {
    /// Bit-at-a-time CRC32C (reflected polynomial 0x82F63B78).
    static func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0x82F6_3B78 & (0 &- (c & 1))) }
        }
        return ~c
    }

    @Test(arguments: kernelLevels)
    func matchesTheReference(level: KernelLevel) {
        let check = Array("123456789".utf8)
        #expect(vdb_crc32c_level(level.isa, 0, check, check.count) == 0xE306_9283, "\(level)")
        #expect(vdb_crc32c_level(level.isa, 0, nil, 0) == 0)
        var rng = SplitMix64(seed: 5)
        let data = (0..<300).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        data.withUnsafeBytes { raw in
            for start in 0..<9 {
                for n in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200] where start + n <= data.count {
                    let got = vdb_crc32c_level(level.isa, 0, raw.baseAddress! + start, n)
                    #expect(got == Self.reference(data[start..<(start + n)]), "\(level) start \(start) n \(n)")
                    // Chained in two parts.
                    let half = n / 2
                    let first = vdb_crc32c_level(level.isa, 0, raw.baseAddress! + start, half)
                    #expect(vdb_crc32c_level(level.isa, first, raw.baseAddress! + start + half, n - half) == got)
                }
            }
        }
    }
}
