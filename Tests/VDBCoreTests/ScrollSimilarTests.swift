import Foundation
import Testing
@testable import VDBCore

@Suite struct ScrollSimilarTests {
    @Test func scrollPagesInIDOrderWithFilterAndVectors() throws {
        let tmp = TempDir("scroll")
        defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "c", dimension: 2, metric: .l2)
        try c.insert((0..<10).map { [Float($0), 1] }, ids: (0..<10).map { UInt64(100 - $0 * 7) },
                     metadata: (0..<10).map { ["even": .bool($0 % 2 == 0)] })
        try c.delete(ids: [93])
        var ids: [UInt64] = []
        var from: UInt64?
        repeat {
            let page = try c.scroll(from: from, limit: 4)
            #expect(page.records.count <= 4)
            #expect(page.records.allSatisfy { $0.vector.isEmpty })
            ids += page.records.map(\.id)
            from = page.nextOffset
        } while from != nil
        #expect(ids == [37, 44, 51, 58, 65, 72, 79, 86, 100])
        let even = try c.scroll(limit: 100, filter: { _, m in m["even"]?.boolValue == true }, withVectors: true)
        #expect(even.records.map(\.id) == [44, 58, 72, 86, 100])
        #expect(even.records.last?.vector == [0, 1])
        #expect(even.nextOffset == nil)
        #expect(try c.scroll(from: 80, limit: 1).records.map(\.id) == [86])
        #expect(throws: VDBError.self) { try c.scroll(limit: 0) }
    }

    @Test func similarLeavesOutThePointAndScoresAreHigherIsBetter() throws {
        let tmp = TempDir("similar")
        defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        let c = try db.createCollection(name: "c", dimension: 2, metric: .l2)
        try c.insert([[0, 0], [1, 0], [3, 0]], ids: [1, 2, 3])
        let hits = try #require(try c.search(similarTo: 2, k: 5))
        #expect(hits.map(\.id) == [1, 3])
        #expect(try c.search(similarTo: 9, k: 1) == nil)
        #expect(Metric.l2.score(distance: 4) == -4)
        #expect(Metric.cosine.score(distance: 0.5) == 0.5)
        #expect(Metric.ip.score(distance: -2) == -2)
    }
}
