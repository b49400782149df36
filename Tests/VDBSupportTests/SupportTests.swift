import Foundation
import Synchronization
import Testing
import VDBSupport

struct ParallelTests {
    /// Every index runs exactly once, whatever the thread count (including more threads than items).
    @Test(arguments: [1, 2, 7, 64])
    func parallelForVisitsEachIndexOnce(threads: Int) {
        let hits = Mutex([Int](repeating: 0, count: 37))
        parallelFor(count: 37, threads: threads) { i in hits.withLock { $0[i] += 1 } }
        #expect(hits.withLock { $0 } == [Int](repeating: 1, count: 37))
    }

    /// The ranges cover 0..<count without overlap and respect `minPerThread`.
    @Test func parallelRangesPartitionTheItems() {
        let ranges = Mutex<[Range<Int>]>([])
        parallelRanges(100, threads: 8, minPerThread: 30) { b, e in ranges.withLock { $0.append(b..<e) } }
        let sorted = ranges.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
        #expect(sorted.count == 3)
        #expect(sorted.first?.lowerBound == 0 && sorted.last?.upperBound == 100)
        for (a, b) in zip(sorted, sorted.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
    }

    @Test func resolvedThreadsMapsZeroToTheCores() {
        #expect(resolvedThreads(3) == 3)
        #expect(resolvedThreads(0) == ProcessInfo.processInfo.activeProcessorCount)
        #expect(resolvedThreads(-1) == ProcessInfo.processInfo.activeProcessorCount)
    }
}

struct SplitMix64Tests {
    /// The reference sequence for seed 0 (Vigna's splitmix64.c), so generated data never changes.
    @Test func matchesTheReferenceSequence() {
        var g = SplitMix64(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
    }
}

struct ByteCursorTests {
    struct Short: Error, Equatable { let message: String }

    @Test func readsLittleEndianAndReportsTruncation() throws {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 10, alignment: 8)
        defer { raw.deallocate() }
        raw.copyBytes(from: [1, 0, 0, 0, 0x00, 0x00, 0x80, 0x3F, 0x68, 0x69] as [UInt8])
        var c = ByteCursor(UnsafeRawBufferPointer(raw)) { Short(message: $0.description) }
        #expect(try c.read(UInt32.self) == 1)
        #expect(try c.readFloat() == 1.0)
        #expect(try c.string(2) == "hi")
        #expect(c.remaining == 0)
        #expect(throws: Short(message: "need 2 bytes at offset 10, record has 10")) { try c.read(UInt16.self) }
    }
}

struct MappedFileTests {
    @Test func mapsFilesAndNamesFailures() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-support-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("f").path
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        let f = try MappedFile(path: path, sequential: true)
        #expect(Array(f.bytes) == [1, 2, 3])
        let empty = dir.appendingPathComponent("empty").path
        try Data().write(to: URL(fileURLWithPath: empty))
        #expect(try MappedFile(path: empty).bytes.count == 0)
        #expect(throws: MappedFile.Failure(path: dir.path, reason: "is a directory")) { try MappedFile(path: dir.path) }
        #expect(throws: MappedFile.Failure(path: path + "x", reason: "No such file or directory")) { try MappedFile(path: path + "x") }
    }

    /// Half floats convert exactly, including signed zero, subnormals and infinity.
    @Test func convertsHalfFloats() {
        let halves: [UInt16] = [0x3C00, 0xC000, 0x8000, 0x0001, 0x7C00]
        var out = [Float](repeating: 0, count: halves.count)
        halves.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { convertHalfToFloat(src.baseAddress!, count: halves.count, to: $0.baseAddress!) }
        }
        #expect(out.map(\.bitPattern) == [Float(1), -2, -0.0, 0x1p-24, .infinity].map(\.bitPattern))
    }
}

struct ZeroedPagesTests {
    /// Growing keeps every byte written and hands out zeros after them: from one page, across the
    /// huge-page threshold, and again from there (the path an HNSW graph takes as it grows).
    @Test func growKeepsContentsAndZeroesTheTail() {
        var words = 12
        var p = ZeroedPages.allocate(byteCount: words * 8)
        let pattern = { (i: Int) in UInt64(i) &* 0x9E37_79B9_7F4A_7C15 | 1 }
        func fill(_ range: Range<Int>) { for i in range { p.storeBytes(of: pattern(i), toByteOffset: i * 8, as: UInt64.self) } }
        fill(0..<words)
        for next in [625, ZeroedPages.hugePageThreshold / 8 + 1_543, 3 * ZeroedPages.hugePageThreshold / 8] {
            p = ZeroedPages.grow(p, from: words * 8, to: next * 8)
            let w = UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt64.self), count: next)
            #expect((0..<words).allSatisfy { w[$0] == pattern($0) }, "contents lost growing \(words) -> \(next) words")
            #expect(w[words...].allSatisfy { $0 == 0 }, "tail not zero growing \(words) -> \(next) words")
            fill(words..<next)
            words = next
        }
        ZeroedPages.deallocate(p, byteCount: words * 8)
    }
}
