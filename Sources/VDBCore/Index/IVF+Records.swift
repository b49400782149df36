// IVF build, load and persistence (record layout in IVFCore.swift).

import Foundation
import VDBSupport

extension IVFCore {
    static func validate(kind: IndexKind, dimension: Int, parameters: IndexParameters, count: Int, floats: Int) throws {
        guard dimension > 0 else { throw VDBError.invalidParameter(name: "dimension", value: dimension, reason: "must be positive") }
        guard count > 0 else { throw VDBError.emptyIndex(kind) }
        guard floats == count * dimension else {
            throw VDBError.dimensionMismatch(expected: dimension, got: count > 0 ? floats / count : floats, index: nil)
        }
        guard parameters.nlist >= 1 else { throw VDBError.invalidParameter(name: "nlist", value: parameters.nlist, reason: "must be at least 1") }
        guard parameters.nlist <= count else { throw VDBError.nlistExceedsVectors(nlist: parameters.nlist, vectors: count) }
    }

    static func build(codec: IVFCodec, kind: IndexKind, dimension d: Int, metric: KernelMetric, parameters: IndexParameters,
                      slots: UnsafeBufferPointer<UInt32>, vectors: UnsafeBufferPointer<Float>,
                      writer: IndexRecordWriter, progress: (@Sendable (Double) -> Void)?) throws -> IVFCore {
        let n = slots.count
        let trained: IVFQuantizer.State
        if let shared = parameters.quantizer {  // shared centroids (IVFCentroids.swift): fill the lists, no training
            guard vectors.count == n * d else {
                throw VDBError.dimensionMismatch(expected: d, got: n > 0 ? vectors.count / n : vectors.count, index: nil)
            }
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
                     records: IndexRecordReader, vectors: SlotVectorSource) throws -> IVFCore {
        let metaKey = RecordKey.make(UInt8(ascii: "M"))
        guard let meta = try records.get(metaKey) else {
            throw VDBError.corruptIndexRecord(key: "M", reason: "no \(kind) index records found")
        }
        var c = RecordCursor(meta, key: metaKey)
        let version = try c.read(UInt32.self)
        let storedCodec = try c.read(UInt8.self)
        let storedDim = Int(try c.read(UInt32.self))
        let nlist = Int(try c.read(UInt32.self))
        let storedMetric = try c.read(UInt8.self)
        guard (1...IVFCore.version).contains(version) else {
            throw VDBError.incompatibleIndex("IVF record version \(version) (this build reads 1 to \(IVFCore.version))")
        }
        guard storedCodec == codec.rawValue else { throw VDBError.incompatibleIndex("the records are not a \(kind) index") }
        guard storedDim == d else { throw VDBError.dimensionMismatch(expected: d, got: storedDim, index: nil) }
        guard storedMetric == (metric == .l2 ? 0 : 1) else { throw VDBError.incompatibleIndex("the \(kind) records were built for another metric") }
        guard nlist > 0, nlist <= 1 << 24 else { throw VDBError.corruptIndexRecord(key: "M", reason: "nlist \(nlist)") }
        // Version 3 names its chunk size; versions 1 and 2 had 32 entries per chunk.
        let chunkEntries = version >= 3 ? Int(try c.read(UInt32.self)) : IVFCore.legacyChunkEntries
        guard chunkEntries > 0, chunkEntries <= 1 << 20 else {
            throw VDBError.corruptIndexRecord(key: "M", reason: "\(chunkEntries) entries per list chunk")
        }

        var centroids = [Float](repeating: 0, count: nlist * d)
        let blocks = (nlist + centroidsPerRecord - 1) / centroidsPerRecord
        try centroids.withUnsafeMutableBufferPointer { cb in
            for b in 0..<blocks {
                let key = RecordKey.make(UInt8(ascii: "C"), UInt32(b))
                guard let v = try records.get(key) else { throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "missing centroid block") }
                let rows = min(centroidsPerRecord, nlist - b * centroidsPerRecord)
                var cur = RecordCursor(v, key: key)
                try cur.copyFloats(rows * d, to: cb.baseAddress! + b * centroidsPerRecord * d)
            }
        }
        var vmin = [Float](), vdiff = [Float]()
        if codec == .sq8 {
            let key = RecordKey.make(UInt8(ascii: "Q"))
            guard let v = try records.get(key) else { throw VDBError.corruptIndexRecord(key: "Q", reason: "missing quantizer") }
            vmin = [Float](repeating: 0, count: d)
            vdiff = [Float](repeating: 0, count: d)
            var cur = RecordCursor(v, key: key)
            try vmin.withUnsafeMutableBufferPointer { try cur.copyFloats(d, to: $0.baseAddress!) }
            try vdiff.withUnsafeMutableBufferPointer { try cur.copyFloats(d, to: $0.baseAddress!) }
        }
        let core = IVFCore(codec: codec, dimension: d, metric: metric, centroids: centroids, vmin: vmin, vdiff: vdiff)
        core.legacyRecords = version == 1
        core.chunkEntries = chunkEntries
        let eb = core.entryBytes
        // Codes are stored for IVF_SQ8; IVF_FLAT stores only slots (version 1 also the floats,
        // which are skipped: the vectors come from storage below).
        let storedEntryBytes = codec == .sq8 || version == 1 ? eb : 0
        // First pass: list sizes, so each list is placed once at its exact size in one arena
        // (filled from the records for IVF_SQ8, from storage below for IVF_FLAT).
        var sizes = [Int](repeating: 0, count: nlist)
        try records.forEach(prefix: [UInt8(ascii: "L")]) { key, value in
            guard let l = RecordKey.number(key, at: 1), Int(l) < nlist, value.count >= 4 else {
                throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "bad list record")
            }
            let cnt = Int(UInt32(littleEndian: value.loadUnaligned(as: UInt32.self)))
            guard cnt > 0 && cnt <= chunkEntries else { throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "chunk count \(cnt)") }
            sizes[Int(l)] += cnt
        }
        let total = sizes.reduce(0, +)
        if total > 0 {
            let arena = IVFListArena(byteCount: total * eb)
            var offset = 0
            for l in 0..<nlist where sizes[l] > 0 {
                core.listSlots[l].reserveCapacity(sizes[l])
                core.listData[l].place(in: arena, at: offset, byteCount: sizes[l] * eb)
                offset += sizes[l] * eb
            }
        }
        try records.forEach(prefix: [UInt8(ascii: "L")]) { key, value in
            guard let l = RecordKey.number(key, at: 1), let chunk = RecordKey.number(key, at: 5), Int(l) < nlist else {
                throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "bad list key")
            }
            let li = Int(l)
            guard Int(chunk) * chunkEntries == core.listSlots[li].count else {
                throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "list chunk out of sequence")
            }
            var cur = RecordCursor(value, key: key)
            let cnt = Int(try cur.read(UInt32.self))
            guard cnt > 0 && cnt <= chunkEntries else { throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "chunk count \(cnt)") }
            // LMDB values are not 4-byte aligned: copy bytes, never rebind.
            let sb = try cur.bytes(cnt * 4)
            let start = core.listSlots[li].count
            core.listSlots[li].append(contentsOf: repeatElement(0, count: cnt))
            core.listSlots[li].withUnsafeMutableBytes { dst in
                (dst.baseAddress! + start * 4).copyMemory(from: sb.baseAddress!, byteCount: cnt * 4)
            }
            for i in start..<(start + cnt) { core.listSlots[li][i] = UInt32(littleEndian: core.listSlots[li][i]) }
            let entries = try cur.bytes(cnt * storedEntryBytes)
            if codec == .sq8 {
                try core.listData[li].withUnsafeMutableBytes { dst in
                    guard (start + cnt) * eb <= dst.count else {
                        throw VDBError.corruptIndexRecord(key: RecordKey.describe(key), reason: "list \(li) longer than its chunk counts")
                    }
                    (dst.baseAddress! + start * eb).copyMemory(from: entries.baseAddress!, byteCount: cnt * eb)
                }
            }
        }
        // Slot maps.
        var maxSlot = -1
        for l in core.listSlots { for s in l { maxSlot = max(maxSlot, Int(s)) } }
        core.slotList = [UInt32](repeating: .max, count: maxSlot + 1)
        core.slotPos = [UInt32](repeating: 0, count: maxSlot + 1)
        for (li, l) in core.listSlots.enumerated() {
            for (p, s) in l.enumerated() {
                guard core.slotList[Int(s)] == .max else { throw VDBError.corruptIndexRecord(key: "L", reason: "slot \(s) appears twice") }
                core.slotList[Int(s)] = UInt32(li)
                core.slotPos[Int(s)] = UInt32(p)
            }
        }
        core.live = core.listSlots.reduce(0) { $0 + $1.count }
        // Which listed slots storage holds; IVF_FLAT copies their vectors into the lists. The
        // runs go to every core (opening a 1M x 384 IVF_FLAT collection spent a second in this
        // copy on one thread): each slot is in one run and has its own place in one list, so
        // the threads write disjoint bytes through base addresses taken before they start.
        let stored = UnsafeMutableBufferPointer<Bool>.allocate(capacity: maxSlot + 1)
        stored.initialize(repeating: false)
        defer { stored.deallocate() }
        let slotList = core.slotList, slotPos = core.slotPos
        let bases = codec == .flat ? core.listData.map(\.baseAddress) : []
        try vectors.forEachRunConcurrently(threads: ProcessInfo.processInfo.activeProcessorCount) { first, n, ids, rows in
            for r in 0..<n {
                let s = Int(first) + r
                guard s <= maxSlot, slotList[s] != .max, ids.map({ $0[r] != emptySlotID }) ?? true else { continue }
                stored[s] = true
                if let base = bases.isEmpty ? nil : bases[Int(slotList[s])] {
                    (base + Int(slotPos[s]) * eb).copyMemory(from: rows + r * d, byteCount: eb)
                }
            }
        }
        // Slots freed by a commit whose list records were not rewritten yet (see IVFCore.swift).
        var freed: [UInt32] = []
        for s in 0..<stored.count where slotList[s] != .max && !stored[s] { freed.append(UInt32(s)) }
        var changed = Set<ChunkID>()
        core.removeSlots(freed, dirty: &changed)
        core.unwritten = changed
        return core
    }

    // MARK: persistence

    func writeAll(_ writer: IndexRecordWriter) throws {
        try writer.deleteAll()
        legacyRecords = false
        chunkEntries = IVFCore.chunkEntries(codec: codec, dimension: dimension)  // every chunk is written below
        unwritten.removeAll()
        var meta = RecordBuilder()
        meta.append(IVFCore.version)
        meta.append(codec.rawValue)
        meta.append(UInt32(dimension))
        meta.append(UInt32(nlist))
        meta.append(UInt8(metric == .l2 ? 0 : 1))
        meta.append(UInt32(chunkEntries))
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
            let chunks = (listSlots[l].count + chunkEntries - 1) / chunkEntries
            for c in 0..<chunks { try writeChunk(list: l, chunk: c, writer) }
        }
    }

    /// Writes (or deletes, when past the end of the list) one chunk record: the count, the slots
    /// and, for IVF_SQ8, the codes.
    func writeChunk(list l: Int, chunk c: Int, _ writer: IndexRecordWriter) throws {
        let key = RecordKey.make(UInt8(ascii: "L"), UInt32(l), UInt32(c))
        let start = c * chunkEntries
        let total = listSlots[l].count
        if start >= total {
            try writer.delete(key)
            return
        }
        let cnt = min(chunkEntries, total - start)
        let codes = codec == .sq8 ? entryBytes : 0
        var b = RecordBuilder(capacity: 4 + cnt * (4 + codes))
        b.append(UInt32(cnt))
        for i in start..<(start + cnt) { b.append(listSlots[l][i]) }
        if codes > 0 {
            listData[l].withUnsafeBytes { b.append(raw: UnsafeRawBufferPointer(rebasing: $0[(start * codes)..<((start + cnt) * codes)])) }
        }
        try b.write(key, to: writer)
    }
}
