import Testing
@testable import VDBCore

@Suite struct TopKTests {
    @Test func keepsBestWithTiesBrokenBySmallerId() {
        var top = TopK(k: 3)
        for (s, id) in [(5.0, 1), (1.0, 9), (1.0, 4), (3.0, 2), (1.0, 7), (0.5, 100)] as [(Float, UInt64)] {
            top.push(score: s, id: id)
        }
        #expect(top.sorted().map(\.id) == [100, 4, 7])
        #expect(top.threshold == 1.0)
    }

    @Test func matchesFullSortOnRandomInput() {
        var rng = SystemRandomNumberGenerator()
        let scores = (0..<1000).map { _ in Float(Int.random(in: 0..<50, using: &rng)) }
        var top = TopK(k: 10)
        for (i, s) in scores.enumerated() { top.push(score: s, id: UInt64(i)) }
        let expected = scores.enumerated().sorted { ($0.element, $0.offset) < ($1.element, $1.offset) }.prefix(10).map { UInt64($0.offset) }
        #expect(top.sorted().map(\.id) == Array(expected))
    }
}
