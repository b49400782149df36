// Shared-centroid IVF (after autofaiss): train the coarse quantizer once on a sample, from one
// database or several, save it to a file, and build every shard's IVF index from that file, so
// the shards' inverted lists can later be concatenated without retraining (Database+Merge.swift).
//
// Centroids file (little-endian):
//   0   8  magic "VDBIVFQ1"
//   8   4  u32 format version (1)
//   12  1  u8 kind (1 = ivf_flat, 2 = ivf_sq8)
//   13  1  u8 metric (0 = l2, 1 = ip, 2 = cosine)
//   14  2  u16 reserved (0)
//   16  4  u32 dimension
//   20  4  u32 nlist
//   24  8  u64 vectors trained on
//   32  8  u64 seed
//   40  4  u32 byte length F of the model fingerprint (0 = none)
//   44  F  the fingerprint (UTF-8), then zero padding to a multiple of 4
//   ..     nlist * dimension f32 centroids; for ivf_sq8 then dimension f32 vmin, dimension f32 vdiff
//   ..  8  u64 FNV-1a hash of every byte before it
import VDBSupport
import CVDBKernels
import Foundation

/// A trained IVF coarse quantizer: the centroids and, for IVF_SQ8, the per-dimension ranges of
/// the residual codes. Building an index with it (``IndexParameters/quantizer``) assigns the
/// vectors to these lists instead of training, so indexes of several shards built from one
/// quantizer have compatible lists (``Database/merge(shards:options:progress:)`` concatenates them).
///
/// ```swift
/// let q = try IVFQuantizer.train(collections: [shard0, shard1], kind: .ivfFlat, nlist: 256)
/// try q.write(to: "photos.ivfq")
/// try shard0.buildIndex(kind: .ivfFlat, parameters: IndexParameters(nlist: q.nlist, quantizer: q))
/// ```
public struct IVFQuantizer: Sendable, Hashable {
    /// `ivfFlat` or `ivfSQ8`.
    public let kind: IndexKind
    /// The metric of the collections it was trained on (and may be used for).
    public let metric: Metric
    public let dimension: Int
    /// `nlist * dimension` floats.
    public let centroids: [Float]
    /// IVF_SQ8: per-dimension minimum and range of the residuals (empty for IVF_FLAT).
    public let vmin: [Float]
    public let vdiff: [Float]
    /// Vectors in the training sample.
    public let trainedOn: Int
    public let seed: UInt64
    /// The model fingerprint of the training collections (their `*.fingerprint` property), if any.
    public let fingerprint: String?

    /// Number of inverted lists.
    public var nlist: Int { dimension > 0 ? centroids.count / dimension : 0 }

    /// Wraps trained state. Throws ``VDBError/invalidArgument(_:)`` when the sizes do not agree.
    public init(kind: IndexKind, metric: Metric, dimension: Int, centroids: [Float], vmin: [Float] = [], vdiff: [Float] = [],
                trainedOn: Int = 0, seed: UInt64 = 42, fingerprint: String? = nil) throws {
        guard kind == .ivfFlat || kind == .ivfSQ8 else { throw VDBError.invalidArgument("a quantizer is for ivf_flat or ivf_sq8, not \(kind)") }
        guard (1...65536).contains(dimension), !centroids.isEmpty, centroids.count % dimension == 0 else {
            throw VDBError.invalidArgument("quantizer: \(centroids.count) centroid floats are not whole \(dimension)-d centroids")
        }
        if kind == .ivfSQ8 {
            guard vmin.count == dimension, vdiff.count == dimension else {
                throw VDBError.invalidArgument("ivf_sq8 quantizer needs \(dimension) ranges (got \(vmin.count) and \(vdiff.count))")
            }
        }
        self.kind = kind
        self.metric = metric
        self.dimension = dimension
        self.centroids = centroids
        self.vmin = kind == .ivfSQ8 ? vmin : []
        self.vdiff = kind == .ivfSQ8 ? vdiff : []
        self.trainedOn = trainedOn
        self.seed = seed
        self.fingerprint = fingerprint
    }

    // MARK: training

    /// What IVF training produces: the centroids and, for SQ8, the residual ranges.
    struct State {
        var centroids: [Float]
        var vmin: [Float]
        var vdiff: [Float]
    }

    /// Trains an IVF quantizer on `n` row-major vectors: seeded k-means for the centroids (spherical
    /// for inner product), then for SQ8 the uniform ranges of the residuals x - c(x)
    /// (Faiss `by_residual`). The one training routine of both `buildIndex` and ``train(collections:kind:nlist:sample:seed:progress:)``.
    static func trainState(codec: IVFCodec, dimension d: Int, metric: KernelMetric, nlist: Int, seed: UInt64,
                           vectors: UnsafePointer<Float>, count n: Int, progress: ((Double) -> Void)?) -> State {
        var km = KMeans(dimension: d, k: nlist)
        km.seed = seed
        km.spherical = metric == .ip
        let centroids = km.train(vectors, n: n, progress: progress)
        var vmin = [Float](), vdiff = [Float]()
        if codec == .sq8 {
            var assign = [Int32](repeating: 0, count: n)
            assign.withUnsafeMutableBufferPointer {
                KMeans.assign(vectors, n: n, d: d, centroids: centroids, k: nlist, ip: metric == .ip, out: $0.baseAddress!)
            }
            var residuals = [Float](repeating: 0, count: n * d)
            for i in 0..<n {
                let c = Int(assign[i]) * d
                for j in 0..<d { residuals[i * d + j] = vectors[i * d + j] - centroids[c + j] }
            }
            vmin = [Float](repeating: 0, count: d)
            vdiff = [Float](repeating: 0, count: d)
            vdb_sq8_train(residuals, n, d, &vmin, &vdiff)
        }
        return State(centroids: centroids, vmin: vmin, vdiff: vdiff)
    }

    /// Trains a quantizer on a uniform random sample of `sample` vectors drawn from the union of
    /// `collections` (one database's collection, or the same collection in several shard
    /// databases), streamed batch by batch: memory holds the sample, not the collections.
    ///
    /// - Parameters:
    ///   - sample: vectors to train on; nil means 256 per list (what k-means uses at most).
    ///   - seed: same collections, same seed, same quantizer.
    ///   - progress: fraction done, 0...1 (sampling is the first half).
    /// - Throws: ``VDBError/invalidArgument(_:)`` when the collections differ in dimension, metric
    ///   or model fingerprint (naming them), or hold fewer vectors than `nlist`.
    public static func train(collections: [Collection], kind: IndexKind, nlist: Int, sample: Int? = nil, seed: UInt64 = 42,
                             progress: ((Double) -> Void)? = nil) throws -> IVFQuantizer {
        guard kind == .ivfFlat || kind == .ivfSQ8 else { throw VDBError.invalidArgument("--type must be ivf_flat or ivf_sq8 to train centroids (got \(kind))") }
        guard let first = collections.first else { throw VDBError.invalidArgument("no collection to train centroids on") }
        guard nlist >= 1 else { throw VDBError.invalidArgument("nlist must be at least 1 (got \(nlist))") }
        let fingerprint = try modelFingerprint(first)
        for c in collections.dropFirst() {
            guard c.dimension == first.dimension, c.metric == first.metric else {
                throw VDBError.invalidArgument("collection '\(c.name)' in \(c.databasePath) is \(c.dimension)-d \(c.metric), "
                    + "but '\(first.name)' in \(first.databasePath) is \(first.dimension)-d \(first.metric)")
            }
            let fp = try modelFingerprint(c)
            guard fp == fingerprint else {
                throw VDBError.invalidArgument("collection '\(c.name)' in \(c.databasePath) was embedded with model \(fp ?? "(none)"), "
                    + "but '\(first.name)' in \(first.databasePath) with \(fingerprint ?? "(none)")")
            }
        }
        let d = first.dimension
        let (total, overflow) = nlist.multipliedReportingOverflow(by: 256)
        let want = sample ?? (overflow ? Int.max : total)
        guard want >= nlist else { throw VDBError.invalidArgument("--sample \(want) is smaller than nlist \(nlist)") }
        // Reservoir sampling (Algorithm R), seeded: a uniform sample in one pass over every vector.
        var rng = SplitMix64(seed: seed ^ 0x5EED_CE17_0000_0001)
        var reservoir: [Float] = []
        var kept = 0, seen = 0
        let counts = try collections.map { try $0.count() }
        let all = max(1, counts.reduce(0, +))
        for c in collections {
            try c.withSnapshot { snap in
                try snap.forEachBatch(size: 4096, metadata: false) { _, vectors, _ in
                    let rows = vectors.count / d
                    for r in 0..<rows {
                        if kept < want {
                            reservoir.append(contentsOf: vectors[(r * d)..<((r + 1) * d)])
                            kept += 1
                        } else {
                            let j = Int(rng.next() % UInt64(seen + 1))
                            if j < want {
                                for k in 0..<d { reservoir[j * d + k] = vectors[r * d + k] }
                            }
                        }
                        seen += 1
                    }
                    progress?(0.5 * Double(seen) / Double(all))
                    return true
                }
            }
        }
        guard kept >= nlist else {
            throw VDBError.invalidArgument("nlist \(nlist) exceeds the \(kept) vectors to train on: use nlist <= \(kept)")
        }
        let state = reservoir.withUnsafeBufferPointer { buf in
            trainState(codec: kind == .ivfSQ8 ? .sq8 : .flat, dimension: d, metric: first.metric.kernel, nlist: nlist, seed: seed,
                       vectors: buf.baseAddress!, count: kept) { progress?(0.5 + 0.5 * $0) }
        }
        return try IVFQuantizer(kind: kind, metric: first.metric, dimension: d, centroids: state.centroids, vmin: state.vmin,
                                vdiff: state.vdiff, trainedOn: kept, seed: seed, fingerprint: fingerprint)
    }

    /// The value of the collection's first property named `*fingerprint` (ingest records
    /// `clip.model.fingerprint`), or nil.
    static func modelFingerprint(_ c: Collection) throws -> String? {
        let props = try c.properties()
        return props.keys.sorted().first { $0.hasSuffix("fingerprint") }.flatMap { props[$0] }
    }

    /// The trained state for building `kind` over `dimension`-d vectors with `metric`, or an error
    /// saying which does not match. Called by the IVF build when ``IndexParameters/quantizer`` is set.
    func state(for kind: IndexKind, dimension d: Int, metric: KernelMetric) throws -> State {
        guard kind == self.kind else {
            throw VDBError.invalidArgument("the centroids were trained for \(self.kind), not \(kind): build with --type \(self.kind) or train again")
        }
        guard d == dimension else {
            throw VDBError.invalidArgument("the centroids are \(dimension)-d but the collection is \(d)-d")
        }
        guard metric == self.metric.kernel else {
            throw VDBError.invalidArgument("the centroids were trained for metric \(self.metric), which ranks differently from this collection's")
        }
        return State(centroids: centroids, vmin: vmin, vdiff: vdiff)
    }

    // MARK: file

    static let magic = Array("VDBIVFQ1".utf8)
    static let fileVersion: UInt32 = 1

    /// Writes the quantizer to `path` (atomically: a temporary file renamed into place).
    public func write(to path: String) throws {
        var out = IVFQuantizer.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        put(IVFQuantizer.fileVersion)
        put(UInt8(kind == .ivfFlat ? 1 : 2))
        put(UInt8(metric == .l2 ? 0 : metric == .ip ? 1 : 2))
        put(UInt16(0))
        put(UInt32(dimension))
        put(UInt32(nlist))
        put(UInt64(trainedOn))
        put(seed)
        let fp = Array((fingerprint ?? "").utf8)
        put(UInt32(fp.count))
        out += fp
        while out.count % 4 != 0 { out.append(0) }
        for f in centroids + vmin + vdiff { put(f.bitPattern) }
        put(IVFQuantizer.fnv1a(out))
        try AtomicFile.write(path) { fd in try FileDescriptorSink(fd: fd, name: path).write(out) }
    }

    /// Reads a quantizer written by ``write(to:)``.
    /// - Throws: ``VDBError/io(path:message:)`` when unreadable, ``VDBError/badInput(path:message:)`` when malformed.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw VDBError.io(path: path, message: "cannot read the centroids file") }
        let b = [UInt8](data)
        func bad(_ m: String) -> VDBError { .badInput(path: path, message: "not a vdb centroids file: \(m)") }
        guard b.count >= 52, Array(b[0..<8]) == IVFQuantizer.magic else { throw bad("bad magic (expected VDBIVFQ1)") }
        func get<T: FixedWidthInteger>(_ at: Int, _ type: T.Type) -> T {
            T(littleEndian: b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: T.self) })
        }
        let stored = get(b.count - 8, UInt64.self)
        guard IVFQuantizer.fnv1a(b[0..<(b.count - 8)]) == stored else { throw bad("checksum mismatch (truncated or damaged copy?)") }
        guard get(8, UInt32.self) == IVFQuantizer.fileVersion else { throw bad("format version \(get(8, UInt32.self)), this build reads 1") }
        let kindCode = b[12], metricCode = b[13]
        guard kindCode == 1 || kindCode == 2 else { throw bad("index kind code \(kindCode)") }
        guard metricCode <= 2 else { throw bad("metric code \(metricCode)") }
        let d = Int(get(16, UInt32.self)), nlist = Int(get(20, UInt32.self))
        guard (1...65536).contains(d), (1...(1 << 24)).contains(nlist) else { throw bad("dimension \(d) / nlist \(nlist) out of range") }
        let fpLength = Int(get(40, UInt32.self))
        guard fpLength <= 4096 else { throw bad("fingerprint of \(fpLength) bytes") }
        let floatsStart = (44 + fpLength + 3) / 4 * 4
        let floats = nlist * d + (kindCode == 2 ? 2 * d : 0)
        guard b.count == floatsStart + 4 * floats + 8 else {
            throw bad("\(b.count) bytes, expected \(floatsStart + 4 * floats + 8) for nlist \(nlist) x \(d)")
        }
        var values = [Float](repeating: 0, count: floats)
        for i in 0..<floats { values[i] = Float(bitPattern: get(floatsStart + 4 * i, UInt32.self)) }
        let cEnd = nlist * d
        try self.init(kind: kindCode == 1 ? .ivfFlat : .ivfSQ8,
                      metric: metricCode == 0 ? .l2 : metricCode == 1 ? .ip : .cosine, dimension: d,
                      centroids: Array(values[0..<cEnd]),
                      vmin: kindCode == 2 ? Array(values[cEnd..<(cEnd + d)]) : [],
                      vdiff: kindCode == 2 ? Array(values[(cEnd + d)...]) : [],
                      trainedOn: Int(get(24, UInt64.self)), seed: get(32, UInt64.self),
                      fingerprint: fpLength > 0 ? String(decoding: b[44..<(44 + fpLength)], as: UTF8.self) : nil)
    }

    static func fnv1a<C: Swift.Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return h
    }
}
