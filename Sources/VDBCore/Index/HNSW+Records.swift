// HNSW build, load and persistence (record layout in HNSW.swift).
import Foundation
import Synchronization
import VDBSupport

extension HNSWIndex {
    static func validate(dimension: Int, parameters: IndexParameters) throws {
        guard dimension > 0 else { throw VDBError.invalidParameter(name: "dimension", value: dimension, reason: "must be positive") }
        guard parameters.m >= 2 else { throw VDBError.invalidParameter(name: "M", value: parameters.m, reason: "must be at least 2 (16 is typical)") }
        guard parameters.m <= 2048 else { throw VDBError.invalidParameter(name: "M", value: parameters.m, reason: "must be at most 2048") }
        guard parameters.efConstruction >= 1 else {
            throw VDBError.invalidParameter(name: "efConstruction", value: parameters.efConstruction, reason: "must be at least 1 (200 is typical)")
        }
    }

    package static func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                              slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>,
                              writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> HNSWIndex {
        try validate(dimension: dimension, parameters: parameters)
        guard slots.count > 0 else { throw VDBError.emptyIndex(.hnsw) }
        guard vectors.count == slots.count * dimension else {
            throw VDBError.dimensionMismatch(expected: dimension, got: vectors.count / slots.count, index: nil)
        }
        let index = HNSWIndex(dimension: dimension, metric: metric, parameters: parameters)
        try index.rw.write {
            index.insertBatch(slots: slots, vectors: vectors.baseAddress!, threads: resolvedThreads(parameters.buildThreads), progress: progress)
            index.built = true
            try index.writeAll(writer)
        }
        progress?(1.0)
        return index
    }

    /// Builds from the collection's storage: each slot's vector is copied once, from its run
    /// straight into its node, so the build holds the vectors once (the graph's own copy) instead
    /// of twice (measured at 1M x 384: 3.4 GB of anonymous memory with the gathered copy).
    package static func build(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                              slots: UnsafeBufferPointer<UInt32>, source: SlotVectorSource,
                              writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> HNSWIndex {
        try validate(dimension: dimension, parameters: parameters)
        guard slots.count > 0 else { throw VDBError.emptyIndex(.hnsw) }
        let index = HNSWIndex(dimension: dimension, metric: metric, parameters: parameters)
        try index.rw.write {
            index.prepareNodes(slots: slots)
            let vb = index.vectorBytes
            try forEachRow(slots: slots, source: source, dimension: dimension) { i, row in
                UnsafeMutableRawPointer(index.node(slots[i])).copyMemory(from: row, byteCount: vb)
            }
            index.insertPrepared(slots: slots, threads: resolvedThreads(parameters.buildThreads), progress: progress)
            index.built = true
            try index.writeAll(writer)
        }
        progress?(1.0)
        return index
    }

    package static func load(dimension: Int, metric: KernelMetric, parameters: IndexParameters,
                             records: IndexRecordReader, vectors: SlotVectorSource) throws -> HNSWIndex {
        let metaKey = RecordKey.make(UInt8(ascii: "M"))
        guard let meta = try records.get(metaKey) else { throw VDBError.corruptIndexRecord(key: "M", reason: "no HNSW index records found") }
        var c = RecordCursor(meta, key: metaKey)
        let version = try c.read(UInt32.self)
        guard (1...HNSWIndex.version).contains(version) else {
            throw VDBError.incompatibleIndex("HNSW record version \(version) (this build reads 1 to \(HNSWIndex.version))")
        }
        let d = Int(try c.read(UInt32.self))
        let m = Int(try c.read(UInt32.self))
        let efc = Int(try c.read(UInt32.self))
        let met = try c.read(UInt8.self)
        let entry = try c.read(UInt32.self)
        let maxLevel = Int(try c.read(Int32.self))
        let cap = Int(try c.read(UInt32.self))
        let blockRows = version >= 3 ? Int(try c.read(UInt32.self)) : HNSWIndex.legacyGraphBlock
        guard (1...Int(UInt16.max)).contains(blockRows) else { throw VDBError.corruptIndexRecord(key: "M", reason: "\(blockRows) slots per graph block") }
        guard d == dimension else { throw VDBError.dimensionMismatch(expected: dimension, got: d, index: nil) }
        guard met == (metric == .l2 ? 0 : 1) else { throw VDBError.incompatibleIndex("the HNSW records were built for another metric") }
        guard maxLevel >= -1 && maxLevel <= 100 else { throw VDBError.corruptIndexRecord(key: "M", reason: "max level \(maxLevel)") }
        var p = parameters
        p.m = m
        p.efConstruction = efc
        try validate(dimension: d, parameters: p)
        let index = HNSWIndex(dimension: d, metric: metric, parameters: p)
        index.graphBlockRows = blockRows
        index.reserve(cap)
        index.entryPoint = entry
        index.maxLevel = maxLevel
        index.built = true
        if version == 1 { index.legacyVectorRecords = (cap + HNSWIndex.legacyVectorBlock - 1) / HNSWIndex.legacyVectorBlock }
        // Graph.
        let nodeWords = 1 + index.maxM0
        try records.forEach(prefix: [UInt8(ascii: "G")]) { key, value in
            guard let b = RecordKey.number(key, at: 1) else { throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "bad key") }
            let (first, overflow) = Int(b).multipliedReportingOverflow(by: blockRows)
            guard !overflow else { throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "block number \(b)") }
            var cur = RecordCursor(value, key: key)
            let rows = Int(try cur.read(UInt16.self))
            guard first + rows <= index.capacity else { throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "block beyond capacity") }
            let lv = try cur.bytes(rows)
            let l0 = try cur.bytes(rows * nodeWords * 4)
            for r in 0..<rows {
                let s = first + r
                let level = Int8(bitPattern: lv[r])
                guard level <= 100 else { throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "level \(level)") }
                index.levels[s] = level
                UnsafeMutableRawPointer(index.header(UInt32(s))).copyMemory(from: l0.baseAddress! + r * nodeWords * 4, byteCount: nodeWords * 4)
                let h = index.header(UInt32(s)).pointee
                if h & HNSWIndex.headerPresent != 0 {
                    guard Int(h & HNSWIndex.countMask) <= index.maxM0 else { throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "link count") }
                    if h & HNSWIndex.headerDeleted != 0 { index.deletedCount += 1 } else { index.live += 1 }
                }
                if level > 0 {
                    let words = Int(level) * index.upperWords
                    let ub = try cur.bytes(words * 4)
                    let u = UnsafeMutablePointer<UInt32>.allocate(capacity: words)
                    UnsafeMutableRawPointer(u).copyMemory(from: ub.baseAddress!, byteCount: words * 4)
                    index.upper[s] = u
                    index.upperBytes += words * 4
                }
            }
        }
        // Sanity: links point inside the index.
        for s in 0..<index.capacity where index.isPresent(UInt32(s)) {
            for l in 0...max(0, Int(index.levels[s])) {
                let (lk, n) = index.links(UInt32(s), l)
                for j in 0..<n where Int(lk[j]) >= index.capacity {
                    throw VDBError.corruptIndexRecord(key: "G", reason: "slot \(s) links to \(lk[j]) beyond capacity \(index.capacity)")
                }
            }
        }
        if index.maxLevel >= 0 && !index.isPresent(index.entryPoint) {
            throw VDBError.corruptIndexRecord(key: "M", reason: "entry point \(index.entryPoint) is not a node")
        }
        // Vectors: from the collection's storage, straight into the nodes (deleted waypoints
        // included: a freed slot keeps its row until the slot is reused, and so does the node).
        // Runs go to every core: each copies into its own nodes (the faults and checksums of the
        // storage pages were a third of a 1M collection's open on one thread).
        let filled = Atomic<Int>(0)
        let vb = index.vectorBytes
        try vectors.forEachRunConcurrently(threads: ProcessInfo.processInfo.activeProcessorCount) { first, n, _, rows in
            let start = Int(first)
            var copied = 0
            for r in 0..<n where start + r < index.capacity && index.isPresent(UInt32(start + r)) {
                UnsafeMutableRawPointer(index.node(UInt32(start + r))).copyMemory(from: rows + r * d, byteCount: vb)
                copied += 1
            }
            filled.wrappingAdd(copied, ordering: .relaxed)
        }
        let nodes = index.live + index.deletedCount
        guard filled.load(ordering: .relaxed) == nodes else {
            throw VDBError.corruptIndexRecord(key: "G", reason: "\(nodes - filled.load(ordering: .relaxed)) of \(nodes) graph nodes have no stored vector")
        }
        return index
    }

    // MARK: persistence

    func writeMeta(_ writer: IndexRecordWriter) throws {
        // Converting from record version 1: its vector records go (the vectors are in storage).
        if legacyVectorRecords > 0 {
            for b in 0..<legacyVectorRecords { try writer.delete(RecordKey.make(UInt8(ascii: "V"), UInt32(b))) }
            legacyVectorRecords = 0
        }
        var b = RecordBuilder()
        b.append(HNSWIndex.version)
        b.append(UInt32(dimension))
        b.append(UInt32(m))
        b.append(UInt32(parameters.efConstruction))
        b.append(UInt8(isL2 ? 0 : 1))
        b.append(entryPoint)
        b.append(Int32(maxLevel))
        b.append(UInt32(capacity))
        b.append(UInt32(graphBlockRows))
        try b.write(RecordKey.make(UInt8(ascii: "M")), to: writer)
    }

    /// Slots per "G" record for links of `m`: as many as fit one 4 KiB LMDB overflow page (16-byte
    /// header) with the row count, the checksum and the upper-level blocks. A slot has e = 1/(M-1)
    /// upper levels on average, so a block of r slots about r*e; room is left for r*e + 3 sqrt(r*e)
    /// + 1 of them, so few blocks spill into a second page. At least 1 (huge M: several pages).
    static func pageGraphBlockRows(m: Int) -> Int {
        let row = 1 + (1 + 2 * m) * 4                        // level, then header + 2M links
        let upper = Double((1 + m) * 4)
        let room = LMDBPages.size - LMDBPages.overflowHeader - 2 - RecordChecksum.size
        var rows = room / row
        while rows > 1 {
            let e = Double(rows) / Double(max(1, m - 1))
            if rows * row + Int(((e + 3 * e.squareRoot() + 1) * upper).rounded(.up)) <= room { break }
            rows -= 1
        }
        return max(1, min(Int(UInt16.max), rows))
    }

    func writeGraphBlock(_ blk: Int, _ writer: IndexRecordWriter) throws {
        let first = blk * graphBlockRows
        let rows = min(graphBlockRows, capacity - first)
        let nodeWords = 1 + maxM0
        var b = RecordBuilder(capacity: 2 + rows * (1 + nodeWords * 4))
        b.append(UInt16(rows))
        for r in 0..<rows { b.append(levels[first + r]) }
        for r in 0..<rows { b.append(raw: UnsafeRawBufferPointer(start: header(UInt32(first + r)), count: nodeWords * 4)) }
        for r in 0..<rows where levels[first + r] > 0 {
            b.append(raw: UnsafeRawBufferPointer(start: upper[first + r]!, count: Int(levels[first + r]) * upperWords * 4))
        }
        try b.write(RecordKey.make(UInt8(ascii: "G"), UInt32(blk)), to: writer)
    }

    func writeAll(_ writer: IndexRecordWriter) throws {
        try writer.deleteAll()
        legacyVectorRecords = 0
        try writeMeta(writer)
        var blk = 0
        while blk * graphBlockRows < capacity { try writeGraphBlock(blk, writer); blk += 1 }
        dirty.update(repeating: 0, count: capacity)
    }

    /// Writes the meta record and the graph blocks of nodes marked dirty.
    func writeDirty(_ writer: IndexRecordWriter) throws {
        try writeMeta(writer)
        var blk = 0
        while blk * graphBlockRows < capacity {
            let first = blk * graphBlockRows
            let rows = min(graphBlockRows, capacity - first)
            var any = false
            for r in 0..<rows where dirty[first + r] != 0 { any = true; dirty[first + r] = 0 }
            if any { try writeGraphBlock(blk, writer) }
            blk += 1
        }
    }
}
