// HNSW insertion (single and parallel), removal and the repair done when a deleted node's slot
// is reused.

import CVDBKernels
import Synchronization
import VDBSupport

extension HNSWIndex {
    // MARK: insertion

    /// Inserts a batch (exclusive lock held). Slots already present are replaced.
    func insertBatch(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafePointer<Float>, threads: Int,
                     progress: (@Sendable (Double) -> Void)?) {
        prepareNodes(slots: slots)
        for (i, s) in slots.enumerated() {
            UnsafeMutableRawPointer(node(s)).copyMemory(from: vectors + i * dimension, byteCount: vectorBytes)
        }
        insertPrepared(slots: slots, threads: threads, progress: progress)
    }

    /// Prepares the nodes of `slots` sequentially (levels, upper blocks; reused slots detached);
    /// the caller then copies each slot's vector into `node(s)` and calls `insertPrepared`.
    func prepareNodes(slots: UnsafeBufferPointer<UInt32>) {
        var maxSlot = 0
        for s in slots { maxSlot = max(maxSlot, Int(s)) }
        reserve(maxSlot + 1)
        for s in slots {
            if isPresent(s) {
                markDeleted([s])
                repairAround([s])
                detachForReuse(s)
            }
            let level = randomLevel(s)
            header(s).pointee = 0   // not present until inserted
            levels[Int(s)] = Int8(level)
            if level > 0 {
                let words = level * upperWords
                let u = UnsafeMutablePointer<UInt32>.allocate(capacity: words)
                u.initialize(repeating: 0, count: words)
                upper[Int(s)] = u
                upperBytes += words * 4
            }
            dirty[Int(s)] = 1
        }
    }

    /// Links the prepared nodes of `slots` (vectors in place) into the graph, in parallel.
    func insertPrepared(slots: UnsafeBufferPointer<UInt32>, threads: Int, progress: (@Sendable (Double) -> Void)?) {
        let n = slots.count
        let step = max(1, n / 100)
        let done = Atomic<Int>(0)
        parallelFor(count: n, threads: threads) { i in
            self.insertOne(slots[i])
            let c = done.wrappingAdd(1, ordering: .relaxed).newValue
            if let progress, c % step == 0 { progress(Double(c) / Double(n) * 0.98) }
        }
        live += n
        insertedSinceCheck += n
        // The connectivity walk reads every node's level-0 list: after every batch while the
        // graph is small, and once the inserts since the last walk reach 2% of the nodes after.
        if capacity <= HNSWIndex.connectivityCheckNodes || insertedSinceCheck * 50 >= capacity || !built {
            connectUnreachable()
            insertedSinceCheck = 0
        }
    }

    // MARK: connectivity

    /// Slot count up to which every insert batch ends with `connectUnreachable`. The walk costs
    /// about 7 ms for 50,000 nodes of 384 dimensions (one `vdb import` of one vector); under
    /// `vdb serve`'s load test it doubled the p50 of 10-vector upserts, so larger graphs walk
    /// once the inserts since the last walk reach 2% of the nodes.
    static let connectivityCheckNodes = 20_000

    /// Marks (1) the slots a level-0 walk from the entry point reaches, deleted waypoints
    /// included; the caller deallocates the buffer (lock held).
    func reachedOnLevel0() -> UnsafeMutableBufferPointer<UInt8> {
        let reached = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(capacity, 1))
        reached.initialize(repeating: 0)
        if maxLevel >= 0 { flood(from: entryPoint, reached) }
        return reached
    }

    /// Marks everything reachable on level 0 from `start` that is not marked yet.
    func flood(from start: UInt32, _ reached: UnsafeMutableBufferPointer<UInt8>) {
        var stack = [start]
        reached[Int(start)] = 1
        while let s = stack.popLast() {
            let (lk, n) = links(s, 0)
            for j in 0..<n where reached[Int(lk[j])] == 0 {
                reached[Int(lk[j])] = 1
                stack.append(lk[j])
            }
        }
    }

    /// Links every live node that no level-0 path from the entry point reaches (exclusive lock
    /// held). The heuristic's pruning can drop a node's last incoming link, and on clustered or
    /// low-intrinsic-dimension data whole islands lose theirs; searches then never return them,
    /// whatever `ef`. As Lucene's `connectComponents` does after a build, each unreached node gets
    /// an incoming link from the nearest reached live node with a free level-0 place (its own
    /// component follows it); when the nearest `efConstruction` all are full, the closest one's
    /// farthest link is replaced, and a further pass reconnects whatever that cut off.
    func connectUnreachable() {
        guard maxLevel >= 0 else { return }
        let reached = reachedOnLevel0()
        defer { reached.deallocate() }
        for _ in 0..<4 {
            var linked = 0
            pool.with { scratch in
                for si in 0..<capacity where reached[si] == 0 {
                    let s = UInt32(si)
                    guard isPresent(s), !isDeleted(s) else { continue }
                    let q = vec(s)
                    let ep = descend(q).entry
                    let found = searchLayerBuild(scratch, q: q, ep: ep, level: 0, ef: parameters.efConstruction, exclude: s)
                    guard found > 0 else { continue }
                    var near = UnsafeMutableBufferPointer(start: scratch.top, count: found)
                    near.sort()
                    var target: UInt32?
                    for key in near where reached[Int(unpackSlot(key))] != 0 && links(unpackSlot(key), 0).1 < maxM0 {
                        target = unpackSlot(key)
                        break
                    }
                    if let t = target {
                        let (lk, n) = links(t, 0)
                        lk[n] = s
                        setCount(t, 0, n + 1)
                        dirty[Int(t)] = 1
                    } else {
                        // All full: the closest reached node trades its farthest link for s.
                        guard let key = near.first(where: { reached[Int(unpackSlot($0))] != 0 }) else { continue }
                        let t = unpackSlot(key)
                        let (lk, n) = links(t, 0)
                        var far = 0
                        var farDist = -Float.infinity
                        for j in 0..<n {
                            let d = dist(t, lk[j])
                            if d > farDist { farDist = d; far = j }
                        }
                        lk[far] = s
                        dirty[Int(t)] = 1
                    }
                    flood(from: s, reached)
                    linked += 1
                }
            }
            guard linked > 0 else { return }
            // A replaced link may have cut a node off: walk again from the entry point.
            reached.update(repeating: 0)
            flood(from: entryPoint, reached)
        }
    }

    /// Frees the old structure of a deleted node so its slot can hold a new vector.
    func detachForReuse(_ s: UInt32) {
        if let u = upper[Int(s)] {
            upperBytes -= Int(levels[Int(s)]) * upperWords * 4
            u.deallocate()
            upper[Int(s)] = nil
        }
        levels[Int(s)] = -1
        header(s).pointee = 0
        deletedCount -= 1
        if maxLevel >= 0 && entryPoint == s {
            // The highest remaining live node becomes the entry point (a deleted one only if none is live).
            var best = -1, bestLevel = -1, bestDeleted = true
            for i in 0..<capacity where i != Int(s) && isPresent(UInt32(i)) {
                let del = isDeleted(UInt32(i))
                let lv = Int(levels[i])
                if best < 0 || (bestDeleted && !del) || (del == bestDeleted && lv > bestLevel) {
                    best = i; bestLevel = lv; bestDeleted = del
                }
            }
            if best >= 0 { entryPoint = UInt32(best); maxLevel = bestLevel } else { maxLevel = -1 }
        }
    }

    /// Inserts one prepared node (vector, level and upper block already set).
    func insertOne(_ s: UInt32) {
        let level = Int(levels[Int(s)])
        let q = vec(s)
        var holdsEntry = false
        var ep: UInt32 = 0
        var top = -1
        entryLock.withLock { _ in
            top = maxLevel
            ep = entryPoint
            if top < 0 {
                entryPoint = s
                maxLevel = level
                setPresent(s)
                top = -2
            }
        }
        if top == -2 { return }
        if level > top {
            // This node will become the entry point: hold the entry lock like hnswlib does.
            holdsEntry = true
        }
        pool.with { scratch in
            var cur = ep
            var curDist = dist(q, cur)
            if level < top {
                var l = top
                while l > level {
                    var changed = true
                    while changed {
                        changed = false
                        let locked = cur
                        vdb_spin_lock(locks + Int(locked))
                        let (lk, n) = links(locked, l)
                        let buf = scratch.sel2
                        for j in 0..<n { buf[j] = UInt64(lk[j]) }
                        vdb_spin_unlock(locks + Int(locked))
                        for j in 0..<n {
                            let c = UInt32(truncatingIfNeeded: buf[j])
                            // A reused slot may still be linked from deleted nodes: never
                            // descend into the node being inserted.
                            if c == s { continue }
                            let d = dist(q, c)
                            if d < curDist { curDist = d; cur = c; changed = true }
                        }
                    }
                    l -= 1
                }
            }
            var l = min(level, top)
            setPresent(s)
            while l >= 0 {
                let found = searchLayerBuild(scratch, q: q, ep: cur, level: l, ef: parameters.efConstruction, exclude: s)
                cur = connect(scratch, s, found: found, level: l)
                l -= 1
            }
        }
        if holdsEntry {
            entryLock.withLock { _ in
                if level > maxLevel { maxLevel = level; entryPoint = s }
            }
        }
    }

    @inline(__always) func setPresent(_ s: UInt32) {
        vdb_spin_lock(locks + Int(s))
        header(s).pointee |= HNSWIndex.headerPresent
        vdb_spin_unlock(locks + Int(s))
    }

    /// Best-first search on one level during construction (neighbour lists read under node locks).
    /// Leaves the `ef` best non-deleted nodes in `scratch.top` and returns their count.
    func searchLayerBuild(_ scratch: HNSWScratch, q: UnsafePointer<Float>, ep: UInt32, level: Int, ef: Int, exclude: UInt32) -> Int {
        let tag = scratch.begin(nodes: capacity, ef: ef)
        let visited = scratch.visited
        var top = MaxHeap(scratch.top)
        var cand = MinHeap(scratch.cand)
        visited[Int(exclude)] = tag
        let d0 = dist(q, ep)
        visited[Int(ep)] = tag
        var lower = Float.infinity
        if ep != exclude && !isDeleted(ep) { top.push(packScore(d0, ep)); lower = d0 }
        cand.push(packScore(d0, ep))
        let localLinks = UnsafeMutablePointer<UInt32>.allocate(capacity: maxM0)
        defer { localLinks.deallocate() }
        while cand.count > 0 {
            let c = cand.top
            let cd = unpackScore(c)
            if cd > lower && top.count == ef { break }
            _ = cand.pop()
            let cs = unpackSlot(c)
            vdb_spin_lock(locks + Int(cs))
            let (lk, n) = links(cs, level)
            localLinks.update(from: lk, count: n)
            vdb_spin_unlock(locks + Int(cs))
            // As in `searchLevel0`: keep the unvisited neighbours (marking them), then score them
            // with vectors prefetched `prefetchAhead` ahead.
            let fresh = Self.takeUnvisited(localLinks, n, visited: visited, tag: tag, into: localLinks)
            for j in 0..<fresh {
                let nb = localLinks[j]
                prefetchScoring(localLinks, fresh, at: j)
                let d = dist(q, nb)
                if top.count < ef || d < lower {
                    cand.push(packScore(d, nb))
                    if !isDeleted(nb) {
                        let key = packScore(d, nb)
                        if top.count < ef { top.push(key) } else if key < top.top { top.replaceTop(key) }
                    }
                    if top.count > 0 { lower = unpackScore(top.top) }
                }
            }
        }
        return top.count
    }

    /// Selects neighbours by the paper's heuristic from `n` candidates in `cand` (packed, any order),
    /// writing at most `maxOut` of them, closest first, into `out`; returns how many.
    /// A candidate is kept if it is closer to the base than to every neighbour kept so far.
    func selectHeuristic(_ cand: UnsafeMutablePointer<UInt64>, _ n: Int, maxOut: Int, out: UnsafeMutablePointer<UInt32>) -> Int {
        // Sort ascending (n is at most efConstruction or 2M + 1).
        var sorted = UnsafeMutableBufferPointer(start: cand, count: n)
        sorted.sort()
        if n <= maxOut {
            for i in 0..<n { out[i] = unpackSlot(cand[i]) }
            return n
        }
        var kept = 0
        for i in 0..<n {
            if kept >= maxOut { break }
            let e = unpackSlot(cand[i])
            let de = unpackScore(cand[i])
            let ve = vec(e)
            var good = true
            for r in 0..<kept where dist(ve, out[r]) < de {
                good = false
                break
            }
            if good { out[kept] = e; kept += 1 }
        }
        return kept
    }

    /// Links new node `s` to its selected neighbours at `level` and adds the reverse links,
    /// re-selecting a neighbour's links when it is full. Returns the closest neighbour.
    func connect(_ scratch: HNSWScratch, _ s: UInt32, found: Int, level: Int) -> UInt32 {
        let maxM = level == 0 ? maxM0 : m
        // Drain the found set into sel (packed, with distances to s).
        let sel = scratch.sel
        for i in 0..<found { sel[i] = scratch.top[i] }
        let chosen = UnsafeMutablePointer<UInt32>.allocate(capacity: max(m, maxM0) + 1)
        defer { chosen.deallocate() }
        // During the initial build a new node keeps the M (or fewer) links of the heuristic and gains
        // more from later insertions. A node inserted after the build gets few later links, so on
        // level 0 its list is filled up to 1.5 M with the closest pruned candidates. Measured on 5k
        // ann-dev vectors after deleting and re-inserting 20% (ef 48): l2 0.9365 vs 0.937 fresh,
        // ip 0.974 vs 0.981; without the fill, 0.013 lower; filling to 2M prunes neighbours too much.
        var nsel = selectHeuristic(sel, found, maxOut: m, out: chosen)
        if level == 0 && built {
            // Keep pruned connections (the paper's option): fill up with the closest candidates.
            let fillTo = min(found, m + m / 2)
            var i = 0
            while nsel < fillTo && i < found {
                let c = unpackSlot(sel[i])
                var dup = false
                for j in 0..<nsel where chosen[j] == c { dup = true; break }
                if !dup { chosen[nsel] = c; nsel += 1 }
                i += 1
            }
        }
        vdb_spin_lock(locks + Int(s))
        let (own, _) = links(s, level)
        own.update(from: chosen, count: nsel)
        setCount(s, level, nsel)
        dirty[Int(s)] = 1
        vdb_spin_unlock(locks + Int(s))

        let buf = scratch.sel2
        let out = UnsafeMutablePointer<UInt32>.allocate(capacity: maxM0 + 1)
        defer { out.deallocate() }
        for i in 0..<nsel {
            let nb = chosen[i]
            vdb_spin_lock(locks + Int(nb))
            let (lk, cnt) = links(nb, level)
            var dup = false
            for j in 0..<cnt where lk[j] == s { dup = true; break }
            if !dup {
                if cnt < maxM {
                    lk[cnt] = s
                    setCount(nb, level, cnt + 1)
                } else {
                    let vn = vec(nb)
                    for j in 0..<cnt { buf[j] = packScore(dist(vn, lk[j]), lk[j]) }
                    buf[cnt] = packScore(dist(vn, s), s)
                    let kept = selectHeuristic(buf, cnt + 1, maxOut: maxM, out: out)
                    lk.update(from: out, count: kept)
                    setCount(nb, level, kept)
                }
                dirty[Int(nb)] = 1
            }
            vdb_spin_unlock(locks + Int(nb))
        }
        return nsel > 0 ? chosen[0] : s
    }

    // MARK: removal

    /// Marks slots deleted (exclusive lock held). A deleted node keeps its links and is still
    /// traversed by searches (so recall does not drop), but never returned; its slot is repaired
    /// and reused when a vector is added under it again (see `repairAround`).
    func markDeleted(_ slots: [UInt32]) {
        for s in slots where isPresent(s) && !isDeleted(s) {
            header(s).pointee |= HNSWIndex.headerDeleted
            dirty[Int(s)] = 1
            live -= 1
            deletedCount += 1
        }
    }

    /// Before the node of deleted slot `s` is reused for a new vector: reconnects each neighbour
    /// that links to it to the deleted node's other neighbours (exclusive lock held).
    func repairAround(_ removed: [UInt32]) {
        guard !removed.isEmpty else { return }
        pool.with { scratch in
            _ = scratch.begin(nodes: capacity, ef: 2 * maxM0 + 2)
            let buf = scratch.sel
            let out = UnsafeMutablePointer<UInt32>.allocate(capacity: 2 * maxM0 + 2)
            defer { out.deallocate() }
            for s in removed {
                let top = Int(levels[Int(s)])
                for level in 0...max(0, top) {
                    let maxM = level == 0 ? maxM0 : m
                    let (sl, sn) = links(s, level)
                    for i in 0..<sn {
                        let nb = sl[i]
                        if nb == s || !isPresent(nb) || isDeleted(nb) { continue }
                        let (lk, cnt) = links(nb, level)
                        var pointsBack = false
                        for j in 0..<cnt where lk[j] == s { pointsBack = true; break }
                        if !pointsBack { continue }
                        // Re-select nb's links among its other links and s's links (no duplicates,
                        // no deleted nodes) with the heuristic: the edges through s are replaced by
                        // edges to s's neighbourhood. (Measured on 5k ann-dev vectors, l2: recall
                        // after re-inserting 20% into their old slots 0.936 vs 0.937 fresh; 0.926
                        // without this repair.)
                        let vn = vec(nb)
                        var n = 0
                        for j in 0..<cnt where lk[j] != s && !isDeleted(lk[j]) {
                            buf[n] = packScore(dist(vn, lk[j]), lk[j]); n += 1
                        }
                        for j in 0..<sn {
                            let c = sl[j]
                            if c == nb || c == s || isDeleted(c) { continue }
                            var seen = false
                            for t in 0..<n where unpackSlot(buf[t]) == c { seen = true; break }
                            if !seen { buf[n] = packScore(dist(vn, c), c); n += 1 }
                        }
                        let kept = selectHeuristic(buf, n, maxOut: maxM, out: out)
                        lk.update(from: out, count: kept)
                        setCount(nb, level, kept)
                        dirty[Int(nb)] = 1
                    }
                }
            }
        }
    }

    // MARK: VectorIndex updates

    package func add(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>, writer: IndexRecordWriter) throws {
        guard vectors.count == slots.count * dimension else {
            throw VDBError.dimensionMismatch(expected: dimension, got: slots.count > 0 ? vectors.count / slots.count : vectors.count, index: nil)
        }
        guard slots.count > 0 else { return }
        try rw.write {
            // Duplicate slots within one batch: the last vector wins.
            var seen = Set<UInt32>()
            var order: [Int] = []
            for i in stride(from: slots.count - 1, through: 0, by: -1) where seen.insert(slots[i]).inserted { order.append(i) }
            order.reverse()
            if order.count == slots.count {
                insertBatch(slots: slots, vectors: vectors.baseAddress!, threads: resolvedThreads(parameters.buildThreads), progress: nil)
                try writeDirty(writer)
            } else {
                let s2 = order.map { slots[$0] }
                var v2 = [Float]()
                v2.reserveCapacity(order.count * dimension)
                for i in order { v2.append(contentsOf: UnsafeBufferPointer(rebasing: vectors[(i * dimension)..<((i + 1) * dimension)])) }
                try s2.withUnsafeBufferPointer { sb in
                    try v2.withUnsafeBufferPointer { vb in
                        insertBatch(slots: sb, vectors: vb.baseAddress!, threads: resolvedThreads(parameters.buildThreads), progress: nil)
                        try writeDirty(writer)
                    }
                }
            }
        }
    }

    package func remove(slots: [UInt32], writer: IndexRecordWriter) throws {
        try rw.write {
            markDeleted(slots)
            try writeDirty(writer)
        }
    }

    /// Nothing to do: deleted nodes stay in the graph as waypoints until their slot is reused.
    package func didCommit() {}
}
