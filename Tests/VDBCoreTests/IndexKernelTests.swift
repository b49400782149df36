import Foundation
import Testing
import CVDBKernels
@testable import VDBCore
import VDBSupport

/// Unit tests of the pieces the indexes are built from (no dataset needed).
@Suite struct IndexKernelTests {
    @Test func packedScoresOrderLikeFloats() {
        let values: [Float] = [-.infinity, -1e30, -3.5, -1, -0.0, 0, 1e-30, 1, 2.25, 1e30, .infinity]
        for a in values {
            for b in values where a < b {
                #expect(packScore(a, 7) < packScore(b, 1), "\(a) < \(b)")
            }
            #expect(unpackScore(packScore(a, 3)) == a)
        }
        #expect(packScore(1, 2) < packScore(1, 3))
        #expect(unpackSlot(packScore(-2, 12345)) == 12345)
    }

    @Test func heapsSelectTheSmallest() {
        var rng = SplitMix64(seed: 9)
        let scores = (0..<500).map { _ in Float(Int(rng.next() % 100)) }
        let buf = UnsafeMutablePointer<UInt64>.allocate(capacity: 600)
        defer { buf.deallocate() }
        var top = MaxHeap(buf)
        for (i, s) in scores.enumerated() {
            let key = packScore(s, UInt32(i))
            if top.count < 10 { top.push(key) } else if key < top.top { top.replaceTop(key) }
        }
        let got = top.drainSorted().map(\.slot)
        let want = scores.enumerated().sorted { ($0.element, $0.offset) < ($1.element, $1.offset) }.prefix(10).map { UInt32($0.offset) }
        #expect(got == Array(want))
        var mh = MinHeap(buf)
        for (i, s) in scores.enumerated() { mh.push(packScore(s, UInt32(i))) }
        var prev: UInt64 = 0
        while mh.count > 0 { let v = mh.pop(); #expect(v >= prev); prev = v }
    }

    @Test func recordStoreIteratesPrefixInKeyOrder() throws {
        let r = InMemoryIndexRecords()
        for k in [RecordKey.make(76, 2, 0), RecordKey.make(76, 1, 1), RecordKey.make(76, 1, 0), RecordKey.make(77)] {
            try [UInt8](k).withUnsafeBytes { try r.put(k, $0) }
        }
        var seen: [[UInt8]] = []
        try r.forEach(prefix: [76]) { k, v in seen.append(k); #expect(Array(v) == k) }
        #expect(seen == [RecordKey.make(76, 1, 0), RecordKey.make(76, 1, 1), RecordKey.make(76, 2, 0)])
        try r.delete(RecordKey.make(77))
        #expect(try r.get(RecordKey.make(77)) == nil)
        #expect(r.recordCount == 3)
    }
}
