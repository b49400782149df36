// Inverted-file indexes: IVF_FLAT (raw vectors per list) and IVF_SQ8 (8-bit codes per list).
//
// Both share `IVFCore`: a k-means coarse quantizer (see KMeans.swift), and per list the slots and
// the encoded entries stored contiguously, scanned with SIMD kernels (CVDBKernels).
//
// Persistence (keys are private to the index; storage prefixes them):
//   "M"                      meta: version, codec, dimension, nlist, metric
//   "C" + block(BE32)        centroids, 64 per record
//   "Q"                      IVF_SQ8 per-dimension vmin and vdiff
//   "L" + list(BE32) + chunk(BE32)  one chunk of a list: count(UInt32), `count` slots, `count` entries
// Lists are chunked (32 entries per record, about 48 KB for 384-d floats) so no value is huge, and
// `add`/`remove` rewrite only the chunks they touched.

import CVDBKernels

/// How list entries are encoded.
enum IVFCodec: UInt8, Sendable {
    /// `dimension` float32 values.
    case flat = 1
    /// 4-byte float header followed by `dimension` uint8 codes of the residual from the list's
    /// centroid (see vdb_sq8.h).
    case sq8 = 2
}

/// Per-query scratch buffers, reused across queries through a pool.
final class IVFScratch {
    var coarse: UnsafeMutablePointer<Float>
    var heap: UnsafeMutablePointer<UInt64>
    var heapCapacity: Int
    var dist: UnsafeMutablePointer<Float>
    var distCapacity: Int
    var wq: UnsafeMutablePointer<Int16>
    var probes: UnsafeMutablePointer<UInt64>
    init(nlist: Int, dimension: Int) {
        coarse = .allocate(capacity: max(1, nlist))
        probes = .allocate(capacity: max(1, nlist))
        heapCapacity = 256
        heap = .allocate(capacity: heapCapacity)
        distCapacity = 1024
        dist = .allocate(capacity: distCapacity)
        wq = .allocate(capacity: (dimension + 63) / 64 * 64)
    }
    func ensureHeap(_ n: Int) {
        if n > heapCapacity { heap.deallocate(); heapCapacity = n; heap = .allocate(capacity: n) }
    }
    func ensureDist(_ n: Int) {
        if n > distCapacity { dist.deallocate(); distCapacity = max(n, distCapacity * 2); dist = .allocate(capacity: distCapacity) }
    }
    deinit { coarse.deallocate(); probes.deallocate(); heap.deallocate(); dist.deallocate(); wq.deallocate() }
}

/// The shared implementation of both IVF indexes. Thread safety: every access to the mutable
/// state below goes through `lock` (shared for searches, exclusive for add/remove).
final class IVFCore: @unchecked Sendable {
    static let chunkEntries = 32
    static let centroidsPerRecord = 64
    static let version: UInt32 = 1

    let codec: IVFCodec
    let dimension: Int
    let metric: KernelMetric
    let nlist: Int
    let entryBytes: Int
    let centroids: [Float]
    let centroidNorms: [Float]
    let vmin: [Float]
    let vdiff: [Float]

    var listSlots: [[UInt32]]
    var listData: [[UInt8]]
    /// By slot: the list holding it (UInt32.max = absent) and its position in the list.
    var slotList: [UInt32] = []
    var slotPos: [UInt32] = []
    var live = 0

    let lock = RWLock()
    let scratch: ScratchPool<IVFScratch>

    var metricCode: Int32 { metric == .l2 ? 0 : 1 }

    init(codec: IVFCodec, dimension: Int, metric: KernelMetric, centroids: [Float], vmin: [Float], vdiff: [Float]) {
        self.codec = codec
        self.dimension = dimension
        self.metric = metric
        self.nlist = centroids.count / dimension
        self.entryBytes = codec == .flat ? dimension * 4 : dimension + 4
        self.centroids = centroids
        var norms = [Float](repeating: 0, count: centroids.count / dimension)
        centroids.withUnsafeBufferPointer { vdb_norm_sq_batch($0.baseAddress!, norms.count, dimension, &norms) }
        self.centroidNorms = norms
        self.vmin = vmin
        self.vdiff = vdiff
        listSlots = Array(repeating: [], count: nlist)
        listData = Array(repeating: [], count: nlist)
        let n = nlist, d = dimension
        scratch = ScratchPool { IVFScratch(nlist: n, dimension: d) }
    }

    // MARK: build / load

    static func validate(kind: IndexKind, dimension: Int, parameters: IndexParameters, count: Int, floats: Int) throws {
        guard dimension > 0 else { throw IndexError.invalidParameter(name: "dimension", value: dimension, reason: "must be positive") }
        guard count > 0 else { throw IndexError.emptyInput(kind) }
        guard floats == count * dimension else { throw IndexError.dimensionMismatch(expected: dimension, got: count > 0 ? floats / count : floats) }
        guard parameters.nlist >= 1 else { throw IndexError.invalidParameter(name: "nlist", value: parameters.nlist, reason: "must be at least 1") }
        guard parameters.nlist <= count else { throw IndexError.nlistExceedsVectors(nlist: parameters.nlist, vectors: count) }
    }

    static func build(codec: IVFCodec, kind: IndexKind, dimension d: Int, metric: KernelMetric, parameters: IndexParameters,
                      slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>,
                      writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> IVFCore {
        let n = slots.count
        let trained: IVFQuantizer.State
        if let shared = parameters.quantizer {  // shared centroids (IVFCentroids.swift): fill the lists, no training
            guard vectors.count == n * d else { throw IndexError.dimensionMismatch(expected: d, got: n > 0 ? vectors.count / n : vectors.count) }
            trained = try shared.state(for: kind, dimension: d, metric: metric)
        } else {
            try validate(kind: kind, dimension: d, parameters: parameters, count: n, floats: vectors.count)
            trained = IVFQuantizer.trainState(codec: codec, dimension: d, metric: metric, nlist: parameters.nlist, seed: parameters.seed,
                                              vectors: vectors.baseAddress!, count: n) { progress?(0.8 * $0) }
        }
        let core = IVFCore(codec: codec, dimension: d, metric: metric, centroids: trained.centroids, vmin: trained.vmin, vdiff: trained.vdiff)
        try core.lock.write {
            if n > 0 { core.insert(slots: slots, vectors: vectors.baseAddress!, dirty: nil) }
            progress?(0.95)
            try core.writeAll(writer)
        }
        progress?(1.0)
        return core
    }

    static func load(codec: IVFCodec, kind: IndexKind, dimension d: Int, metric: KernelMetric, parameters: IndexParameters,
                     reader: IndexRecordReader) throws -> IVFCore {
        let metaKey = RecordKey.make(UInt8(ascii: "M"))
        guard let meta = try reader.get(metaKey) else {
            throw IndexError.corruptRecord(key: "M", reason: "no \(kind) index records found")
        }
        var c = RecordCursor(meta, key: metaKey)
        let version = try c.read(UInt32.self)
        let storedCodec = try c.read(UInt8.self)
        let storedDim = Int(try c.read(UInt32.self))
        let nlist = Int(try c.read(UInt32.self))
        let storedMetric = try c.read(UInt8.self)
        guard version == IVFCore.version else { throw IndexError.incompatibleRecords(reason: "version \(version)") }
        guard storedCodec == codec.rawValue else { throw IndexError.incompatibleRecords(reason: "records are not a \(kind) index") }
        guard storedDim == d else { throw IndexError.dimensionMismatch(expected: d, got: storedDim) }
        guard storedMetric == (metric == .l2 ? 0 : 1) else { throw IndexError.incompatibleRecords(reason: "metric differs from the collection's") }
        guard nlist > 0 else { throw IndexError.corruptRecord(key: "M", reason: "nlist 0") }

        var centroids = [Float](repeating: 0, count: nlist * d)
        let blocks = (nlist + centroidsPerRecord - 1) / centroidsPerRecord
        try centroids.withUnsafeMutableBufferPointer { cb in
            for b in 0..<blocks {
                let key = RecordKey.make(UInt8(ascii: "C"), UInt32(b))
                guard let v = try reader.get(key) else { throw IndexError.corruptRecord(key: RecordKey.describe(key), reason: "missing centroid block") }
                let rows = min(centroidsPerRecord, nlist - b * centroidsPerRecord)
                var cur = RecordCursor(v, key: key)
                try cur.copyFloats(rows * d, to: cb.baseAddress! + b * centroidsPerRecord * d)
            }
        }
        var vmin = [Float](), vdiff = [Float]()
        if codec == .sq8 {
            let key = RecordKey.make(UInt8(ascii: "Q"))
            guard let v = try reader.get(key) else { throw IndexError.corruptRecord(key: "Q", reason: "missing quantizer") }
            vmin = [Float](repeating: 0, count: d)
            vdiff = [Float](repeating: 0, count: d)
            var cur = RecordCursor(v, key: key)
            try vmin.withUnsafeMutableBufferPointer { try cur.copyFloats(d, to: $0.baseAddress!) }
            try vdiff.withUnsafeMutableBufferPointer { try cur.copyFloats(d, to: $0.baseAddress!) }
        }
        let core = IVFCore(codec: codec, dimension: d, metric: metric, centroids: centroids, vmin: vmin, vdiff: vdiff)
        let eb = core.entryBytes
        // First pass: list sizes, so each list is allocated once at its exact size.
        var sizes = [Int](repeating: 0, count: nlist)
        try reader.forEach(prefix: [UInt8(ascii: "L")]) { key, value in
            guard let l = RecordKey.number(key, at: 1), Int(l) < nlist, value.count >= 4 else {
                throw IndexError.corruptRecord(key: RecordKey.describe(key), reason: "bad list record")
            }
            sizes[Int(l)] += Int(UInt32(littleEndian: value.loadUnaligned(as: UInt32.self)))
        }
        for l in 0..<nlist where sizes[l] > 0 {
            core.listSlots[l].reserveCapacity(sizes[l])
            core.listData[l].reserveCapacity(sizes[l] * eb)
        }
        try reader.forEach(prefix: [UInt8(ascii: "L")]) { key, value in
            guard let l = RecordKey.number(key, at: 1), let chunk = RecordKey.number(key, at: 5), Int(l) < nlist else {
                throw IndexError.corruptRecord(key: RecordKey.describe(key), reason: "bad list key")
            }
            let li = Int(l)
            guard Int(chunk) * chunkEntries == core.listSlots[li].count else {
                throw IndexError.corruptRecord(key: RecordKey.describe(key), reason: "list chunk out of sequence")
            }
            var cur = RecordCursor(value, key: key)
            let cnt = Int(try cur.read(UInt32.self))
            guard cnt > 0 && cnt <= chunkEntries else { throw IndexError.corruptRecord(key: RecordKey.describe(key), reason: "chunk count \(cnt)") }
            // LMDB values are not 4-byte aligned: copy bytes, never rebind.
            let sb = try cur.bytes(cnt * 4)
            let start = core.listSlots[li].count
            core.listSlots[li].append(contentsOf: repeatElement(0, count: cnt))
            core.listSlots[li].withUnsafeMutableBytes { dst in
                (dst.baseAddress! + start * 4).copyMemory(from: sb.baseAddress!, byteCount: cnt * 4)
            }
            for i in start..<(start + cnt) { core.listSlots[li][i] = UInt32(littleEndian: core.listSlots[li][i]) }
            core.listData[li].append(contentsOf: try cur.bytes(cnt * eb))
        }
        // Slot maps.
        var maxSlot = -1
        for l in core.listSlots { for s in l { maxSlot = max(maxSlot, Int(s)) } }
        core.slotList = [UInt32](repeating: .max, count: maxSlot + 1)
        core.slotPos = [UInt32](repeating: 0, count: maxSlot + 1)
        for (li, l) in core.listSlots.enumerated() {
            for (p, s) in l.enumerated() {
                guard core.slotList[Int(s)] == .max else { throw IndexError.corruptRecord(key: "L", reason: "slot \(s) appears twice") }
                core.slotList[Int(s)] = UInt32(li)
                core.slotPos[Int(s)] = UInt32(p)
            }
        }
        core.live = core.listSlots.reduce(0) { $0 + $1.count }
        return core
    }

    // MARK: persistence

    func writeAll(_ writer: IndexRecordWriter) throws {
        try writer.deleteAll()
        var meta = RecordBuilder()
        meta.append(IVFCore.version)
        meta.append(codec.rawValue)
        meta.append(UInt32(dimension))
        meta.append(UInt32(nlist))
        meta.append(UInt8(metric == .l2 ? 0 : 1))
        try meta.write(RecordKey.make(UInt8(ascii: "M")), to: writer)
        let per = IVFCore.centroidsPerRecord
        try centroids.withUnsafeBufferPointer { cb in
            var b = 0
            while b * per < nlist {
                let rows = min(per, nlist - b * per)
                let part = UnsafeBufferPointer(rebasing: cb[(b * per * dimension)..<((b * per + rows) * dimension)])
                try writer.put(RecordKey.make(UInt8(ascii: "C"), UInt32(b)), UnsafeRawBufferPointer(part))
                b += 1
            }
        }
        if codec == .sq8 {
            var q = RecordBuilder(capacity: 8 * dimension)
            vmin.withUnsafeBufferPointer { q.append(floats: $0) }
            vdiff.withUnsafeBufferPointer { q.append(floats: $0) }
            try q.write(RecordKey.make(UInt8(ascii: "Q")), to: writer)
        }
        for l in 0..<nlist {
            let chunks = (listSlots[l].count + IVFCore.chunkEntries - 1) / IVFCore.chunkEntries
            for c in 0..<chunks { try writeChunk(list: l, chunk: c, writer) }
        }
    }

    /// Writes (or deletes, when past the end of the list) one chunk record.
    func writeChunk(list l: Int, chunk c: Int, _ writer: IndexRecordWriter) throws {
        let key = RecordKey.make(UInt8(ascii: "L"), UInt32(l), UInt32(c))
        let start = c * IVFCore.chunkEntries
        let total = listSlots[l].count
        if start >= total {
            try writer.delete(key)
            return
        }
        let cnt = min(IVFCore.chunkEntries, total - start)
        var b = RecordBuilder(capacity: 4 + cnt * (4 + entryBytes))
        b.append(UInt32(cnt))
        for i in start..<(start + cnt) { b.append(listSlots[l][i]) }
        listData[l].withUnsafeBytes { b.append(raw: UnsafeRawBufferPointer(rebasing: $0[(start * entryBytes)..<((start + cnt) * entryBytes)])) }
        try b.write(key, to: writer)
    }

    struct ChunkID: Hashable, Comparable {
        var list: Int
        var chunk: Int
        static func < (a: ChunkID, b: ChunkID) -> Bool { (a.list, a.chunk) < (b.list, b.chunk) }
    }

    // MARK: updates (callers hold the write lock)

    func ensureSlotCapacity(_ slot: Int) {
        if slot >= slotList.count {
            let n = max(slot + 1, slotList.count * 2)
            slotList.append(contentsOf: repeatElement(.max, count: n - slotList.count))
            slotPos.append(contentsOf: repeatElement(0, count: n - slotPos.count))
        }
    }

    /// Assigns and appends vectors; a slot already present is replaced.
    func insert(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafePointer<Float>, dirty: UnsafeMutablePointer<Set<ChunkID>>?) {
        let n = slots.count
        let d = dimension
        var assign = [Int32](repeating: 0, count: n)
        assign.withUnsafeMutableBufferPointer {
            KMeans.assign(vectors, n: n, d: d, centroids: centroids, k: nlist, ip: metric == .ip, out: $0.baseAddress!)
        }
        let present = slots.filter { Int($0) < slotList.count && slotList[Int($0)] != .max }
        if !present.isEmpty { removeSlots(present, dirty: dirty) }
        // Building: reserve exactly what each list receives (no doubling slack in memory).
        var adds = [Int](repeating: 0, count: nlist)
        if dirty == nil { for a in assign { adds[Int(a)] += 1 } }
        for l in 0..<nlist where adds[l] > 0 {
            listSlots[l].reserveCapacity(listSlots[l].count + adds[l])
            listData[l].reserveCapacity((listSlots[l].count + adds[l]) * entryBytes)
        }
        var entry = [UInt8](repeating: 0, count: entryBytes)
        for i in 0..<n {
            let s = slots[i]
            let l = Int(assign[i])
            let x = vectors + i * d
            ensureSlotCapacity(Int(s))
            slotList[Int(s)] = UInt32(l)
            slotPos[Int(s)] = UInt32(listSlots[l].count)
            listSlots[l].append(s)
            switch codec {
            case .flat:
                listData[l].append(contentsOf: UnsafeRawBufferPointer(start: x, count: d * 4))
            case .sq8:
                entry.withUnsafeMutableBufferPointer { e in
                    centroids.withUnsafeBufferPointer { cb in
                        vmin.withUnsafeBufferPointer { mn in
                            vdiff.withUnsafeBufferPointer { df in
                                vdb_sq8_encode(x, 1, d, cb.baseAddress! + l * d, mn.baseAddress!, df.baseAddress!, e.baseAddress!)
                            }
                        }
                    }
                }
                listData[l].append(contentsOf: entry)
            }
            live += 1
            dirty?.pointee.insert(ChunkID(list: l, chunk: (listSlots[l].count - 1) / IVFCore.chunkEntries))
        }
    }

    /// Removes slots by moving each list's last entry into the hole.
    func removeSlots(_ slots: [UInt32], dirty: UnsafeMutablePointer<Set<ChunkID>>?) {
        let eb = entryBytes
        for s in slots {
            guard Int(s) < slotList.count, slotList[Int(s)] != .max else { continue }
            let l = Int(slotList[Int(s)])
            let p = Int(slotPos[Int(s)])
            let last = listSlots[l].count - 1
            if p != last {
                let moved = listSlots[l][last]
                listSlots[l][p] = moved
                slotPos[Int(moved)] = UInt32(p)
                listData[l].withUnsafeMutableBytes { b in
                    (b.baseAddress! + p * eb).copyMemory(from: b.baseAddress! + last * eb, byteCount: eb)
                }
            }
            listSlots[l].removeLast()
            listData[l].removeLast(eb)
            slotList[Int(s)] = .max
            live -= 1
            dirty?.pointee.insert(ChunkID(list: l, chunk: p / IVFCore.chunkEntries))
            dirty?.pointee.insert(ChunkID(list: l, chunk: last / IVFCore.chunkEntries))
        }
    }

    func add(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>, writer: IndexRecordWriter) throws {
        guard vectors.count == slots.count * dimension else {
            throw IndexError.dimensionMismatch(expected: dimension, got: slots.count > 0 ? vectors.count / slots.count : vectors.count)
        }
        guard slots.count > 0 else { return }
        try lock.write {
            var dirty = Set<ChunkID>()
            insert(slots: slots, vectors: vectors.baseAddress!, dirty: &dirty)
            for c in dirty.sorted() { try writeChunk(list: c.list, chunk: c.chunk, writer) }
        }
    }

    func remove(slots: [UInt32], writer: IndexRecordWriter) throws {
        try lock.write {
            var dirty = Set<ChunkID>()
            removeSlots(slots, dirty: &dirty)
            for c in dirty.sorted() { try writeChunk(list: c.list, chunk: c.chunk, writer) }
        }
    }

    var memoryBytes: Int {
        lock.read {
            var b = centroids.count * 4 + centroidNorms.count * 4 + (vmin.count + vdiff.count) * 4
            b += slotList.count * 8
            for l in 0..<nlist { b += listSlots[l].capacity * 4 + listData[l].capacity }
            return b
        }
    }

    // MARK: search

    func search(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters, filter: ((UInt32) -> Bool)?,
                rerankWith source: (any ExactVectorSource)?, rerankFactor: Int) throws -> [(score: Float, slot: UInt32)] {
        guard k > 0 else { throw IndexError.invalidParameter(name: "k", value: k, reason: "must be at least 1") }
        guard parameters.nprobe > 0 else {
            throw IndexError.invalidParameter(name: "nprobe", value: parameters.nprobe, reason: "must be at least 1 (and at most nlist \(nlist))")
        }
        let rerank = source != nil
        let nprobe = min(parameters.nprobe, nlist)
        let d = dimension
        let kk = rerank ? k * max(1, rerankFactor) : k
        let candidates: [(score: Float, slot: UInt32)] = lock.read {
            scratch.with { s in
                // 1. Coarse quantizer: the nprobe closest centroids.
                // -q.c for all centroids (four at a time), then |c|^2 - 2 q.c for L2.
                centroids.withUnsafeBufferPointer { cb in
                    vdb_scan4_f32(query, cb.baseAddress!, nlist, d, 1, s.coarse)
                }
                if metric == .l2 {
                    centroidNorms.withUnsafeBufferPointer { nb in
                        for c in 0..<nlist { s.coarse[c] = nb[c] + 2 * s.coarse[c] }
                    }
                }
                s.ensureHeap(max(nprobe, kk))
                var probes = MaxHeap(s.heap)
                for c in 0..<nlist {
                    let key = packScore(s.coarse[c], UInt32(c))
                    if probes.count < nprobe { probes.push(key) } else if key < probes.top { probes.replaceTop(key) }
                }
                // Keep the probes (list and coarse score; visit order does not matter for exact top-k).
                let probeCount = probes.count
                let probeKeys = s.probes
                for i in 0..<probeCount { probeKeys[i] = s.heap[i] }

                // 2. Scan the lists.
                var sq = vdb_sq8_query()
                if codec == .sq8 {
                    sq.wq = s.wq
                    vmin.withUnsafeBufferPointer { mn in
                        vdiff.withUnsafeBufferPointer { df in vdb_sq8_prepare(query, d, mn.baseAddress!, df.baseAddress!, &sq) }
                    }
                }
                var top = MaxHeap(s.heap)
                for pi in 0..<probeCount {
                    let l = Int(unpackSlot(probeKeys[pi]))
                    let coarse = unpackScore(probeKeys[pi])
                    let n = listSlots[l].count
                    if n == 0 { continue }
                    s.ensureDist(n)
                    let dist = s.dist
                    listData[l].withUnsafeBytes { raw in
                        switch codec {
                        case .flat:
                            vdb_scan_f32(query, raw.baseAddress!.assumingMemoryBound(to: Float.self), n, d, metricCode, dist)
                        case .sq8:
                            // bias: |q - c|^2 = coarse + |q|^2 for L2, q . c = -coarse for inner product.
                            let bias = metric == .l2 ? coarse + sq.qnorm : -coarse
                            vdb_sq8_scan(&sq, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), n, metricCode, bias, dist)
                        }
                    }
                    listSlots[l].withUnsafeBufferPointer { sl in
                        for i in 0..<n {
                            let key = packScore(dist[i], sl[i])
                            if top.count < kk {
                                if let f = filter, !f(sl[i]) { continue }
                                top.push(key)
                            } else if key < top.top {
                                if let f = filter, !f(sl[i]) { continue }
                                top.replaceTop(key)
                            }
                        }
                    }
                }
                return top.drainSorted()
            }
        }
        guard rerank, let source else { return candidates }
        // 3. Re-rank with the exact vectors.
        var exact = [(score: Float, slot: UInt32)]()
        exact.reserveCapacity(candidates.count)
        let slots = candidates.map(\.slot)
        let mc = metricCode
        try slots.withUnsafeBufferPointer { sb in
            try source.withVectors(slots: sb) { i, v in
                if let v { exact.append((vdb_score_f32(query, v, d, mc), sb[i])) }
            }
        }
        exact.sort { $0.score < $1.score || ($0.score == $1.score && $0.slot < $1.slot) }
        return Array(exact.prefix(k))
    }
}

/// What IVF_FLAT and IVF_SQ8 share: the inverted-file core (centroids, lists, persistence) and
/// the forwarding of size queries and writes to it. The subclasses choose the codec and search.
public class IVFIndexBase: @unchecked Sendable {
    // `core` is immutable; its state is guarded by its own lock.
    let core: IVFCore
    public let parameters: IndexParameters
    public var count: Int { core.lock.read { core.live } }
    public var memoryBytes: Int { core.memoryBytes }
    /// Number of inverted lists.
    public var nlist: Int { core.nlist }

    init(core: IVFCore, parameters: IndexParameters) {
        self.core = core
        self.parameters = parameters
    }

    /// Builds the core for a codec (see `VectorIndex.build`).
    static func buildCore(_ codec: IVFCodec, _ kind: IndexKind, dimension: Int, metric: KernelMetric,
                          parameters: IndexParameters, slots: UnsafeBufferPointer<UInt32>,
                          vectors: UnsafeBufferPointer<Float>, writer: IndexRecordWriter,
                          progress: (@Sendable (Double) -> Void)?) throws -> IVFCore {
        try IVFCore.build(codec: codec, kind: kind, dimension: dimension, metric: metric, parameters: parameters,
                          slots: slots, vectors: vectors, writer: writer, progress: progress)
    }

    /// Loads the core for a codec and the parameters it was built with (`nlist` as stored).
    static func loadCore(_ codec: IVFCodec, _ kind: IndexKind, dimension: Int, metric: KernelMetric,
                         parameters: IndexParameters, reader: IndexRecordReader) throws -> (IVFCore, IndexParameters) {
        let core = try IVFCore.load(codec: codec, kind: kind, dimension: dimension, metric: metric,
                                    parameters: parameters, reader: reader)
        var p = parameters
        p.nlist = core.nlist
        return (core, p)
    }

    public func add(slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>, writer: IndexRecordWriter) throws {
        try core.add(slots: slots, vectors: vectors, writer: writer)
    }

    public func remove(slots: [UInt32], writer: IndexRecordWriter) throws {
        try core.remove(slots: slots, writer: writer)
    }
}

/// IVF_FLAT: inverted lists of raw vectors (Faiss `IndexIVFFlat`).
///
/// Build trains `nlist` centroids with k-means (seeded), then assigns every vector to its nearest
/// centroid. A search visits the `nprobe` nearest lists and scores their vectors exactly.
/// Inserts after the build go to the nearest centroid without retraining; removes delete the entry.
public final class IVFFlatIndex: IVFIndexBase, VectorIndex, @unchecked Sendable {
    public var kind: IndexKind { .ivfFlat }

    public static func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                             slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>,
                             writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> IVFFlatIndex {
        IVFFlatIndex(core: try buildCore(.flat, .ivfFlat, dimension: dimension, metric: metric, parameters: parameters,
                                         slots: slots, vectors: vectors, writer: writer, progress: progress),
                     parameters: parameters)
    }

    public static func load(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                            reader: IndexRecordReader) throws -> IVFFlatIndex {
        let (core, p) = try loadCore(.flat, .ivfFlat, dimension: dimension, metric: metric, parameters: parameters, reader: reader)
        return IVFFlatIndex(core: core, parameters: p)
    }

    public func search(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                       filter: ((UInt32) -> Bool)?) throws -> [(score: Float, slot: UInt32)] {
        try core.search(query: query, k: k, parameters: parameters, filter: filter, rerankWith: nil, rerankFactor: 1)
    }
}

/// IVF_SQ8: inverted lists of 8-bit scalar-quantized vectors (Faiss `IndexIVFScalarQuantizer`
/// with `QT_8bit` and `by_residual`: uniform per-dimension min/max trained on the residuals
/// x - centroid of the build input; each entry holds the codes of its residual).
///
/// Distances are computed on the codes (an integer dot product with per-query int16 weights, see
/// `vdb_sq8.h`). With `SearchParameters.rerank`, the best `k * rerankFactor` candidates are
/// re-scored with the exact vectors: from `exactVectors` when attached, else, inside a collection
/// search, from the LMDB snapshot that search reads (storage publishes it per thread). The index
/// does not keep a second copy of the float vectors: that would defeat SQ8's 4x saving.
public final class IVFSQ8Index: IVFIndexBase, VectorIndex, @unchecked Sendable {
    private let sourceLock = Mutex()
    // Guarded by `sourceLock`.
    private var _exactVectors: (any ExactVectorSource)?
    private var _rerankFactor = 4
    public var kind: IndexKind { .ivfSQ8 }

    /// Where `rerank` reads exact vectors from (nil: `rerank` throws ``IndexError/rerankUnavailable``).
    public var exactVectors: (any ExactVectorSource)? {
        get { sourceLock.withLock { _exactVectors } }
        set { sourceLock.withLock { _exactVectors = newValue } }
    }
    /// With `rerank`, how many candidates per result are re-scored exactly (default 4).
    public var rerankFactor: Int {
        get { sourceLock.withLock { _rerankFactor } }
        set { sourceLock.withLock { _rerankFactor = max(1, newValue) } }
    }

    public static func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                             slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>,
                             writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> IVFSQ8Index {
        IVFSQ8Index(core: try buildCore(.sq8, .ivfSQ8, dimension: dimension, metric: metric, parameters: parameters,
                                        slots: slots, vectors: vectors, writer: writer, progress: progress),
                    parameters: parameters)
    }

    public static func load(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                            reader: IndexRecordReader) throws -> IVFSQ8Index {
        let (core, p) = try loadCore(.sq8, .ivfSQ8, dimension: dimension, metric: metric, parameters: parameters, reader: reader)
        return IVFSQ8Index(core: core, parameters: p)
    }

    public func search(query: UnsafePointer<Float>, k: Int, parameters: SearchParameters,
                       filter: ((UInt32) -> Bool)?) throws -> [(score: Float, slot: UInt32)] {
        var source: (any ExactVectorSource)?
        var factor = 1
        if parameters.rerank {
            (source, factor) = sourceLock.withLock { (_exactVectors, _rerankFactor) }
            // Inside a storage search, the exact vectors of the search's own snapshot.
            if source == nil, let snapshot = SnapshotVectors.current, snapshot.dimension == core.dimension {
                source = SnapshotVectorSource(snapshot: snapshot)
            }
            guard source != nil else { throw IndexError.rerankUnavailable }
        }
        return try core.search(query: query, k: k, parameters: parameters, filter: filter, rerankWith: source, rerankFactor: factor)
    }
}
