import Testing
@testable import VDBCLIP

/// The towers' scratch arenas: reused between passes (no fresh pages per call), at most one kept,
/// and the attention buffer zeroed for every pass.
@Suite struct WorkspaceTests {
    @Test func arenasAreReusedBoundedAndAttentionStartsZeroed() {
        let config = ParityTests.tiny.config.vision
        let pool = ScratchPool()
        func pass(rows: Int, scribble: Bool = false) -> (UnsafeMutablePointer<Float>, Bool) {
            pool.withWorkspace(rows: rows, config: config, seq: 5, threads: 2, extra: [7, 100]) { ws in
                let n = rows * config.hiddenSize
                let zeroed = (0..<n).allSatisfy { ws.attn[$0] == 0 }
                if scribble { ws.attn.update(repeating: .nan, count: n) }
                #expect(ws.extra.count == 2)
                #expect(ws.extra[1] - ws.extra[0] == 16, "extra buffers are rounded up to 64 bytes")
                return (ws.h, zeroed)
            }
        }
        let (small, _) = pass(rows: 10, scribble: true)
        let (again, zeroed) = pass(rows: 10)
        #expect(again == small, "the same arena serves the next pass of the same size")
        #expect(zeroed, "attention rows from the last pass do not leak into this one")
        let (big, _) = pass(rows: 1000)
        #expect(big != small)
        let (afterBig, _) = pass(rows: 10)
        #expect(afterBig == big, "only the larger arena was kept; smaller passes use it")
    }
}
