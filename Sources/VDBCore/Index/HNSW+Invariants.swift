// Structural invariants of the HNSW graph, checked by the tests after every mutation.

extension HNSWIndex {
    /// Checks: every link of a node points at another present node whose level reaches the
    /// link's level, without duplicates, within the level's link limit; a node has an upper block
    /// exactly when its level is above 0; absent nodes hold nothing; the entry point is a present
    /// node on the top level, and no node is higher; the live and deleted counters match the nodes.
    /// With `liveSlots`, the present non-deleted nodes are exactly those slots.
    package func checkInvariants(liveSlots: Set<UInt32>?) throws {
        func fail(_ what: String) -> VDBError { VDBError.corrupt("HNSW invariant: \(what)") }
        try rw.read {
            var liveCount = 0, deleted = 0, top = -1
            var seen = Set<UInt32>()
            for si in 0..<capacity {
                let s = UInt32(si)
                guard isPresent(s) else {
                    if upper[si] != nil { throw fail("absent slot \(s) keeps an upper-level block") }
                    continue
                }
                let level = Int(levels[si])
                guard level >= 0 && level <= 100 else { throw fail("slot \(s) has level \(level)") }
                guard (level > 0) == (upper[si] != nil) else { throw fail("slot \(s) at level \(level) has \(upper[si] == nil ? "no" : "an") upper block") }
                for l in 0...level {
                    let (lk, n) = links(s, l)
                    guard n <= (l == 0 ? maxM0 : m) else { throw fail("slot \(s) has \(n) links on level \(l)") }
                    seen.removeAll(keepingCapacity: true)
                    for j in 0..<n {
                        let t = lk[j]
                        guard t != s else { throw fail("slot \(s) links to itself on level \(l)") }
                        guard Int(t) < capacity, isPresent(t) else { throw fail("slot \(s) links to absent slot \(t) on level \(l)") }
                        guard Int(levels[Int(t)]) >= l else { throw fail("slot \(s) links to \(t) (level \(levels[Int(t)])) on level \(l)") }
                        guard seen.insert(t).inserted else { throw fail("slot \(s) links twice to \(t) on level \(l)") }
                    }
                }
                if isDeleted(s) { deleted += 1 } else {
                    liveCount += 1
                    if let liveSlots, !liveSlots.contains(s) { throw fail("slot \(s) is live in the graph but not stored") }
                }
                top = max(top, level)
            }
            guard liveCount == live else { throw fail("\(liveCount) live nodes, counter says \(live)") }
            guard deleted == deletedCount else { throw fail("\(deleted) deleted nodes, counter says \(deletedCount)") }
            if let liveSlots, liveSlots.count != liveCount {
                throw fail("\(liveSlots.count) stored slots, \(liveCount) live nodes")
            }
            if top < 0 {
                guard maxLevel == -1 else { throw fail("empty graph with max level \(maxLevel)") }
            } else {
                guard maxLevel == top else { throw fail("max level \(maxLevel), highest node at \(top)") }
                guard isPresent(entryPoint), Int(levels[Int(entryPoint)]) == maxLevel else {
                    throw fail("entry point \(entryPoint) is not a node on the top level \(maxLevel)")
                }
            }
        }
    }
}

extension HNSWIndex {
    /// Live slots that a level-0 walk from the entry point (through deleted waypoints too) does
    /// not reach: a search can never return them. Empty after every insert batch while the
    /// index has at most `connectivityCheckNodes` slots (see `connectUnreachable`).
    package func unreachableLiveSlots() -> [UInt32] {
        rw.read {
            let reached = reachedOnLevel0()
            defer { reached.deallocate() }
            return (0..<capacity).compactMap { i in
                isPresent(UInt32(i)) && !isDeleted(UInt32(i)) && reached[i] == 0 ? UInt32(i) : nil
            }
        }
    }
}
