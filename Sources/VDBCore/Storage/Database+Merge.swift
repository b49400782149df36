// `Database.merge`: shard databases (made by `vdb ingest --shard I/N`, or any databases with
// compatible collections) combined into new collections of this database.
import Foundation

/// Settings of a merge.
public struct MergeOptions: Sendable {
    /// Collections to merge, each with its `NAME.captions` companion when the shards have one;
    /// nil merges every collection found in any shard.
    public var collections: [String]?
    /// Vectors per write transaction.
    public var batchSize: Int

    public init(collections: [String]? = nil, batchSize: Int = 4096) {
        self.collections = collections
        self.batchSize = batchSize
    }
}

/// Where a merge is, reported while it runs.
public struct MergeProgress: Sendable, Hashable {
    public enum Phase: String, Sendable, Codable {
        /// Copying vectors and metadata from the shards.
        case copying
        /// Building or concatenating the index.
        case indexing
    }
    public var collection: String
    public var phase: Phase
    /// Fraction of this phase done, 0...1.
    public var fraction: Double
    /// Vectors read from the shards so far (copying).
    public var vectors: Int
}

/// How a merged collection got its index.
public enum MergedIndex: String, Sendable, Codable {
    /// Exact search only.
    case none
    /// IVF lists of the shards concatenated (they were built from the same centroids).
    case concatenated
    /// IVF retrained over the merged vectors (the shards' centroids differ or are missing).
    case retrained
    /// HNSW built over the merged vectors.
    case rebuilt
}

/// What a merge did to one collection.
public struct CollectionMergeSummary: Sendable, Codable, Hashable {
    public var name: String
    /// The shard databases that held the collection, in merge order.
    public var shards: [String]
    /// Vectors in the merged collection.
    public var count: Int
    /// Ids found in more than one shard: stored once, from the first shard that holds them.
    public var duplicates: Int
    public var index: IndexKind
    public var indexMerge: MergedIndex
    public var seconds: Double
}

/// What a merge did.
public struct MergeSummary: Sendable, Codable, Hashable {
    public var output: String
    public var collections: [CollectionMergeSummary]
    public var seconds: Double
}

extension Database {
    /// Combines the collections of shard databases into new collections of this database.
    ///
    /// For each collection name: vectors and metadata are copied shard by shard (in the order
    /// given) in batches, an id held by several shards is stored once (from the first), and the
    /// collection properties are carried over. Shards must agree on dimension, metric and model
    /// fingerprint (any property named `*fingerprint`, such as ingest's `clip.model.fingerprint`).
    /// The index: IVF lists are concatenated, without retraining or reassigning a vector, when every
    /// shard's IVF index was built from the same centroids (``IVFQuantizer``), so the merged
    /// collection searches exactly as one built over the union with those centroids; other IVF
    /// collections are retrained, HNSW is rebuilt. Exact search returns the same top-k as a
    /// single-node ingest of the same input: the stored vectors are copied bit for bit.
    ///
    /// Shards are only read, and must not be written during the merge.
    ///
    /// - Throws: ``VDBError/invalidArgument(_:)`` naming the shard when shards disagree, when a
    ///   merged collection already exists here, or when a shard is this database.
    public func merge(shards: [Database], options: MergeOptions = MergeOptions(),
                      progress: ((MergeProgress) -> Void)? = nil) throws -> MergeSummary {
        let start = Date()
        guard !shards.isEmpty else { throw VDBError.invalidArgument("merge needs at least one shard database") }
        for s in shards where s.env === env {
            throw VDBError.invalidArgument("shard \(s.path) is the output database itself: merge into a new directory")
        }
        var names: [String] = []
        if let wanted = options.collections {
            for n in wanted {
                guard try shards.contains(where: { try $0.collectionNames().contains(n) }) else {
                    throw VDBError.invalidArgument("no shard has a collection named '\(n)' (shards: \(shards.map(\.path).joined(separator: ", ")))")
                }
                names.append(n)
                let captions = n + ".captions"
                if try shards.contains(where: { try $0.collectionNames().contains(captions) }), !names.contains(captions) { names.append(captions) }
            }
        } else {
            names = Array(Set(try shards.flatMap { try $0.collectionNames() })).sorted()
        }
        let existing = Set(try collectionNames())
        for n in names where existing.contains(n) {
            throw VDBError.invalidArgument("collection '\(n)' already exists in \(path): merge writes new collections (drop it, or merge into another directory)")
        }
        var summaries: [CollectionMergeSummary] = []
        for name in names {
            let holders = try shards.compactMap { s -> Collection? in try s.collectionNames().contains(name) ? s.collection(named: name) : nil }
            summaries.append(try mergeCollection(name, from: holders, options: options, progress: progress))
        }
        return MergeSummary(output: path, collections: summaries, seconds: Date().timeIntervalSince(start))
    }

    private func mergeCollection(_ name: String, from holders: [Collection], options: MergeOptions,
                                 progress: ((MergeProgress) -> Void)?) throws -> CollectionMergeSummary {
        let start = Date()
        let first = holders[0]
        let firstInfo = try first.info()
        let fingerprint = try IVFQuantizer.modelFingerprint(first)
        var properties: [String: String?] = [:]
        var fields: [FieldDefinition] = []
        var total = 0
        for c in holders {
            guard c.dimension == first.dimension else {
                throw VDBError.invalidArgument("shard \(c.databasePath): collection '\(name)' has dimension \(c.dimension), "
                    + "but shard \(first.databasePath) has \(first.dimension)")
            }
            guard c.metric == first.metric else {
                throw VDBError.invalidArgument("shard \(c.databasePath): collection '\(name)' uses metric \(c.metric), "
                    + "but shard \(first.databasePath) uses \(first.metric)")
            }
            let fp = try IVFQuantizer.modelFingerprint(c)
            guard fp == fingerprint else {
                throw VDBError.invalidArgument("shard \(c.databasePath): collection '\(name)' was made with model \(fp ?? "(none)"), "
                    + "but shard \(first.databasePath) with \(fingerprint ?? "(none)"): merge only shards made with the same model")
            }
            for (k, v) in try c.properties() where properties[k] == nil { properties[k] = v }
            // Indexed fields: the union of the shards' (one type per name).
            for f in try c.fields() {
                if let declared = fields.first(where: { $0.name == f.name }) {
                    guard declared.type == f.type else {
                        throw VDBError.invalidArgument("shard \(c.databasePath): field '\(f.name)' of '\(name)' is \(f.type), "
                            + "but an earlier shard declares it \(declared.type)")
                    }
                } else {
                    fields.append(f)
                }
            }
            total += try c.count()
        }
        var params = firstInfo.parameters
        params.quantizer = nil
        let out = try createCollection(name: name, dimension: first.dimension, metric: first.metric, index: firstInfo.index,
                                       parameters: params, fields: fields)
        if !properties.isEmpty { try out.setProperties(properties) }

        // Vectors and metadata, shard by shard; an id already copied is a duplicate.
        var duplicates = 0
        var skipped: [Set<UInt64>] = []
        var copied = 0
        for c in holders {
            var skippedHere = Set<UInt64>()
            try c.withSnapshot { snap in
                try snap.forEachBatch(size: options.batchSize) { ids, vectors, metas in
                    let present = try out.contains(ids: ids)
                    if present.contains(true) {
                        let d = first.dimension
                        var keepIDs: [UInt64] = [], keepVectors: [Float] = [], keepMeta: [Metadata?] = []
                        for (i, id) in ids.enumerated() {
                            if present[i] { skippedHere.insert(id); continue }
                            keepIDs.append(id); keepMeta.append(metas[i])
                            keepVectors += vectors[(i * d)..<((i + 1) * d)]
                        }
                        duplicates += ids.count - keepIDs.count
                        if !keepIDs.isEmpty { try out.insertStored(contiguous: keepVectors, ids: keepIDs, metadata: keepMeta) }
                    } else {
                        try out.insertStored(contiguous: vectors, ids: ids, metadata: metas)
                    }
                    copied += ids.count
                    progress?(MergeProgress(collection: name, phase: .copying, fraction: total > 0 ? Double(copied) / Double(total) : 1, vectors: copied))
                    return true
                }
            }
            skipped.append(skippedHere)
        }

        // The index.
        var how = MergedIndex.none
        let kind = firstInfo.index
        switch kind {
        case .flat:
            break
        case .hnsw:
            try out.buildIndex(kind: .hnsw, parameters: params, progress: Self.sendable(progress, name))
            how = .rebuilt
        case .ivfFlat, .ivfSQ8:
            if try out.count() == 0 {
                how = .none
            } else if let merged = try concatenatedIVF(kind: kind, holders: holders, skipped: skipped, into: out) {
                var p = params
                p.nlist = merged.nlist
                try out.installIVF(merged, kind: kind, parameters: p)
                how = .concatenated
            } else {
                var p = params
                p.nlist = min(p.nlist, try out.count())
                try out.buildIndex(kind: kind, parameters: p, progress: Self.sendable(progress, name))
                how = .retrained
            }
            progress?(MergeProgress(collection: name, phase: .indexing, fraction: 1, vectors: copied))
        }
        return CollectionMergeSummary(name: name, shards: holders.map(\.databasePath), count: try out.count(), duplicates: duplicates,
                                      index: kind, indexMerge: how, seconds: Date().timeIntervalSince(start))
    }

    /// Forwards index-build progress to a merge progress callback (from the build's threads).
    private static func sendable(_ progress: ((MergeProgress) -> Void)?, _ name: String) -> (@Sendable (Double) -> Void)? {
        guard let progress else { return nil }
        let box = UncheckedProgress(progress)
        return { f in box.call(MergeProgress(collection: name, phase: .indexing, fraction: f, vectors: 0)) }
    }

    /// The merged IVF core when every shard holding vectors has a built IVF index of `kind` from
    /// the same centroids, else nil. Lists are concatenated in shard order; each entry's slot is
    /// mapped through its id to the merged collection's slot, duplicates dropped.
    private func concatenatedIVF(kind: IndexKind, holders: [Collection], skipped: [Set<UInt64>], into out: Collection) throws -> IVFCore? {
        // Each shard's core (in its own snapshot) and its slot -> id map; nil for an empty shard.
        enum ShardIVF { case empty, missing, built(IVFCore, [UInt64]) }
        var cores: [(core: IVFCore, ids: [UInt64])?] = []
        for c in holders {
            let found: ShardIVF = try c.withSnapshot { snap in
                if snap.count == 0 { return .empty }
                guard let index = try snap.index(), index.kind == kind, let base = index as? IVFIndexBase else { return .missing }
                var ids = [UInt64](repeating: emptySlotID, count: snap.slotLimit)
                try snap.forEachSlot { slot, id in ids[Int(slot)] = id }
                return .built(base.core, ids)
            }
            switch found {
            case .empty: cores.append(nil)
            case .missing: return nil  // a shard with vectors but no IVF index of this kind
            case let .built(core, ids): cores.append((core, ids))
            }
        }
        let built = cores.compactMap { $0?.core }
        guard let reference = built.first else { return nil }
        for core in built.dropFirst() where !core.hasSameQuantizer(as: reference) { return nil }
        // The merged collection's id -> slot, sorted by id for binary search.
        var outSlots: [(id: UInt64, slot: UInt32)] = []
        outSlots.reserveCapacity(try out.count())
        try out.withSnapshot { snap in try snap.forEachSlot { slot, id in outSlots.append((id, slot)) } }
        outSlots.sort { $0.id < $1.id }
        func slot(of id: UInt64) -> UInt32? {
            var lo = 0, hi = outSlots.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if outSlots[mid].id < id { lo = mid + 1 } else { hi = mid }
            }
            return lo < outSlots.count && outSlots[lo].id == id ? outSlots[lo].slot : nil
        }
        let merged = reference.emptyCopy()
        for (i, entry) in cores.enumerated() {
            guard let (core, ids) = entry else { continue }
            let skip = skipped[i]
            merged.append(listsOf: core) { s in
                guard Int(s) < ids.count else { return nil }
                let id = ids[Int(s)]
                return id == emptySlotID || skip.contains(id) ? nil : slot(of: id)
            }
        }
        return merged
    }
}

/// A non-Sendable progress callback called from index-build threads, one call at a time.
private final class UncheckedProgress: @unchecked Sendable {
    // `body` is only called under `lock`, so calls never overlap.
    private let body: (MergeProgress) -> Void
    private let lock = NSLock()
    init(_ body: @escaping (MergeProgress) -> Void) { self.body = body }
    func call(_ p: MergeProgress) { lock.lock(); body(p); lock.unlock() }
}

extension IVFCore {
    /// Whether `other` was built from the same quantizer (codec, centroids, SQ8 ranges, metric).
    func hasSameQuantizer(as other: IVFCore) -> Bool {
        codec == other.codec && dimension == other.dimension && metric == other.metric
            && centroids == other.centroids && vmin == other.vmin && vdiff == other.vdiff
    }

    /// A core with this one's quantizer and empty lists.
    func emptyCopy() -> IVFCore {
        IVFCore(codec: codec, dimension: dimension, metric: metric, centroids: centroids, vmin: vmin, vdiff: vdiff)
    }

    /// Appends every entry of `source`'s lists to the same lists here, under the slot `map`
    /// returns for its source slot (nil: the entry is dropped). Entries are copied, not re-encoded.
    func append(listsOf source: IVFCore, mapping map: (UInt32) -> UInt32?) {
        let eb = entryBytes
        source.lock.read {
            lock.write {
                for l in 0..<nlist {
                    let slots = source.listSlots[l]
                    source.listData[l].withUnsafeBytes { data in
                        for (p, s) in slots.enumerated() {
                            guard let t = map(s) else { continue }
                            append(slot: t, toList: l, entry: UnsafeRawBufferPointer(rebasing: data[(p * eb)..<((p + 1) * eb)]))
                        }
                    }
                }
            }
        }
    }
}

extension Collection {
    /// Makes `core` (concatenated shard lists) this collection's built index of `kind`, in one
    /// write transaction: its records, the catalog entry and the slot table of the stored vectors
    /// commit together, and searches use it from the commit on.
    func installIVF(_ core: IVFCore, kind: IndexKind, parameters: IndexParameters) throws {
        guard let type = indexType(kind) as? (IVFIndexBase & VectorIndex).Type else { throw VDBError.indexUnavailable(kind) }
        try env.writeSession { session in
            let w = try session.enter(self, loadingIndex: false)
            let txn = session.txn
            let writer = TxnIndexWriter(txn: txn, prefix: prefix)
            try core.lock.write { try core.writeAll(writer) }  // replaces any records
            let table = try slotTable(txn.reader, state: w.state, baseEpoch: w.epoch)
            try install(type.init(core: core, parameters: parameters), kind: kind, parameters: parameters, table: table, w, txn)
        }
    }
}
