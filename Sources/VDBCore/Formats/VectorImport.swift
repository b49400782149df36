// Importing a vector file into a collection: all or nothing by default, or in resumable batches.
//
// Both modes first read the whole file once and check every row (dimension, NaN/infinity, zero
// vectors for cosine, ids reserved, repeated or already stored, metadata), holding one chunk at a
// time, so a bad row is found before anything is written. Then:
//   - atomic: one write transaction stores every row. LMDB keeps the new pages of a transaction in
//     memory until it commits, so the transaction's size is limited (`maxTransactionBytes`).
//   - resumable: one transaction per batch; each also records how far the import got (a
//     collection property), so a run that stops for any reason, `kill -9` included, continues
//     where the last commit ended when started again in this mode.
import Foundation

/// How ``Collection/importFile(_:options:progress:)`` commits.
public enum ImportMode: Sendable, Equatable {
    /// All or nothing: one transaction stores every row (the default).
    case atomic
    /// One transaction per `batchSize` rows, each recording the progress; an interrupted import
    /// continues from the last committed batch when run again in this mode.
    case resumable(batchSize: Int)
}

/// Options of ``Collection/importFile(_:options:progress:)``.
public struct ImportOptions: Sendable, Equatable {
    public var mode: ImportMode
    /// Id of row 0 for files without ids (ids increase by one per row); nil: one past the largest
    /// id ever stored in the collection.
    public var startID: UInt64?
    /// Atomic imports: the largest transaction, in bytes of new data (vectors, ids, metadata),
    /// accepted; a bigger file is refused before anything is written (import it resumably).
    /// This is what bounds the memory of an atomic import: about this much plus one chunk.
    public var maxTransactionBytes: Int

    public init(mode: ImportMode = .atomic, startID: UInt64? = nil, maxTransactionBytes: Int = 1 << 30) {
        self.mode = mode
        self.startID = startID
        self.maxTransactionBytes = maxTransactionBytes
    }
}

/// Progress of an import: the phase and the rows done in it.
public struct ImportProgress: Sendable {
    public enum Phase: Sendable { case checking, storing }
    public var phase: Phase
    public var rows: Int
    /// Fraction of the phase done, 0...1.
    public var fraction: Double
}

/// What ``Collection/importFile(_:options:progress:)`` did.
public struct ImportSummary: Sendable, Equatable {
    /// Rows in the file.
    public var totalRows: Int
    /// The row this call started at (0, or where an interrupted resumable import had stopped).
    public var firstRow: Int
    /// Rows this call stored.
    public var rowsStored: Int
    /// Transactions this call committed.
    public var transactions: Int
    /// Ids given to rows of a file without ids: `firstID ..< firstID + totalRows`; nil when the
    /// file has its own ids.
    public var firstID: UInt64?
}

/// Where a resumable import of a file stands (a collection property, written with each batch).
struct ImportCheckpoint: Codable, Equatable {
    var path: String
    var rows: Int
    var total: Int
    var size: Int
    var mtimeNanoseconds: Int64
    var firstID: UInt64?

    static func key(_ path: String) -> String {
        let c = Array(path.utf8).withUnsafeBytes { RecordChecksum.crc($0) }
        return "import:" + RecordChecksum.hex(c)
    }
}

extension Collection {
    /// Imports a vector file (`.fvecs`, `.bvecs`, `.ivecs`, `.npy`, `.jsonl`; see ``VectorFiles``)
    /// or a table (`.parquet`, `.arrow`; see ``ArrowTableReader``: cosine vectors of unit length
    /// are kept bit for bit, so an export imports back unchanged).
    ///
    /// Every row is checked before anything is written; with ``ImportMode/atomic`` one transaction
    /// then stores all rows, so on any failure the collection is exactly as it was. With
    /// ``ImportMode/resumable(batchSize:)`` each batch commits on its own together with a record
    /// of how far the import got, and calling this again in that mode continues after the last
    /// committed batch (the file must not have changed). Ids come from the file (JSONL), else
    /// ``ImportOptions/startID`` upwards, else continue after the largest stored id.
    ///
    /// - Throws: ``VDBError/importStopped(path:location:problem:committedRows:)`` naming the row
    ///   (or batch) and the problem, and how many rows from the start of the file are committed.
    @discardableResult
    public func importFile(_ path: String, options: ImportOptions = ImportOptions(),
                           progress: ((ImportProgress) -> Void)? = nil) throws -> ImportSummary {
        let identity = try FileIdentity(path)
        let checkpointKey = ImportCheckpoint.key(identity.path)
        let checkpoint = try property(checkpointKey).flatMap { try? JSONDecoder().decode(ImportCheckpoint.self, from: Data($0.utf8)) }
            .flatMap { $0.path == identity.path ? $0 : nil }
        var startRow = 0
        var firstID = options.startID
        if let checkpoint {
            guard case .resumable = options.mode else {
                throw VDBError.importStopped(path: path, location: nil, problem: "an interrupted resumable import of this file is pending",
                                             committedRows: checkpoint.rows)
            }
            guard checkpoint.size == identity.size, checkpoint.mtimeNanoseconds == identity.mtimeNanoseconds else {
                throw VDBError.importStopped(path: path, location: nil, problem: "the file changed (size or modification time) since rows 0..<\(checkpoint.rows) of it were imported",
                                             committedRows: checkpoint.rows)
            }
            if let given = options.startID, given != checkpoint.firstID {
                throw VDBError.importStopped(path: path, location: nil, problem: "the interrupted import gave ids from \(checkpoint.firstID.map(String.init) ?? "the file"), not from \(given)",
                                             committedRows: checkpoint.rows)
            }
            startRow = checkpoint.rows
            firstID = checkpoint.firstID
        }
        let committedBefore = startRow
        func stopped(_ location: String?, _ problem: String, committed: Int? = nil) -> VDBError {
            .importStopped(path: path, location: location, problem: problem, committedRows: committed ?? committedBefore)
        }

        // Pass 1: check every row from `startRow` on.
        let scan = try checkRows(path, from: startRow, stopped: { stopped($0, $1) }) { rows, fraction in
            progress?(ImportProgress(phase: .checking, rows: rows, fraction: fraction))
        }
        let total = scan.totalRows
        if !scan.fileHasIDs {
            let first = try firstID ?? env.read { txn in try state(txn).nextID }
            let (last, overflow) = first.addingReportingOverflow(UInt64(total))
            guard !overflow, last < emptySlotID else {
                throw stopped(nil, "ids \(first)..<\(first) + \(total) would pass the largest id 18446744073709551614")
            }
            firstID = first
        } else if options.startID != nil {
            throw stopped(nil, "the file gives its own ids; a start id does not apply")
        }
        let summary = ImportSummary(totalRows: total, firstRow: startRow, rowsStored: 0, transactions: 0,
                                    firstID: scan.fileHasIDs ? nil : firstID)
        if startRow >= total { return summary }

        switch options.mode {
        case .atomic:
            let bytes = scan.estimatedBytes
            guard bytes <= options.maxTransactionBytes else {
                throw stopped(nil, "the file holds \(total) vectors (about \(bytes >> 20) MiB with ids and metadata), more than one transaction "
                              + "may hold (\(options.maxTransactionBytes >> 20) MiB: LMDB keeps a transaction's new pages in memory until it "
                              + "commits); import it in resumable batches (vdb import --resume), or raise the limit")
            }
            return try storeAtomically(path, summary, scan: scan, stopped: { stopped($0, $1) }, progress: progress)
        case .resumable(let batchSize):
            guard batchSize >= 1 else { throw VDBError.invalidArgument("batch size must be at least 1 (got \(batchSize))") }
            let base = ImportCheckpoint(path: identity.path, rows: startRow, total: total, size: identity.size,
                                        mtimeNanoseconds: identity.mtimeNanoseconds, firstID: scan.fileHasIDs ? nil : firstID)
            return try storeResumably(path, summary, batchSize: batchSize, checkpoint: base, key: checkpointKey,
                                      stopped: { stopped($0, $1, committed: $2) }, progress: progress)
        }
    }

    // MARK: - pass 1

    struct ImportScan {
        var totalRows = 0
        var fileHasIDs = false
        /// File ids in file order, from the start row on (for rows of a repeated id).
        var ids: [UInt64] = []
        var metadataBytes = 0
        /// Rows read at a time (at most about 64 MiB of floats).
        var chunkRows = 1
        var dimension = 0

        var estimatedBytes: Int {
            // Per row: its floats, its id in the block, the id map record and its B-tree share.
            let perRow = 4 * dimension + 8 + 48
            let (v, o) = totalRows.multipliedReportingOverflow(by: perRow)
            return o ? .max : v.addingReportingOverflow(metadataBytes).partialValue
        }
    }

    /// Reads the file once, checking every row from `startRow` on as an insert would.
    private func checkRows(_ path: String, from startRow: Int, stopped: (String?, String) -> VDBError,
                           progress: (Int, Double) -> Void) throws -> ImportScan {
        var scan = ImportScan()
        let reader: any VectorFileReader
        do { reader = try Self.openForImport(path) } catch let e as VDBError { throw stopped(nil, Self.message(e)) }
        guard reader.dimension == dimension else {
            throw stopped(nil, "the file holds \(reader.dimension)-d vectors but collection '\(name)' has dimension \(dimension)")
        }
        scan.dimension = dimension
        scan.chunkRows = max(1, min(10_000, (64 << 20) / (4 * dimension)))
        var row = 0
        while true {
            let chunk: VectorChunk
            do {
                guard let c = try reader.next(maxCount: scan.chunkRows) else { break }
                chunk = c
            } catch let e as VDBError {
                throw stopped(nil, Self.message(e))
            }
            let n = chunk.count
            defer { row += n; progress(row, reader.progress) }
            if row == 0 { scan.fileHasIDs = chunk.ids != nil }
            if row + n <= startRow { continue }
            let skip = max(0, startRow - row)
            var v = Array(chunk.vectors[(skip * dimension)...])
            do { try prepare(&v, count: n - skip, keepUnit: Self.keepsUnitVectors(path)) } catch let e as VDBError {
                throw stopped("row \(row + skip + (Self.rowIndex(e) ?? 0))", Self.rowless(e))
            }
            if let ids = chunk.ids {
                let mine = Array(ids[skip...])
                for (i, id) in mine.enumerated() where id == emptySlotID {
                    throw stopped("row \(row + skip + i)", "id \(id) is reserved")
                }
                let stored = try contains(ids: mine)
                if let i = stored.firstIndex(of: true) {
                    throw stopped("row \(row + skip + i)", "id \(mine[i]) already exists in '\(name)'")
                }
                scan.ids += mine
            }
            if let metadata = chunk.metadata {
                for (i, m) in metadata[skip...].enumerated() {
                    guard let m else { continue }
                    do { scan.metadataBytes += try MetadataCodec.encode(m).count + 24 } catch let e as VDBError {
                        throw stopped("row \(row + skip + i)", Self.message(e))
                    }
                }
            }
        }
        scan.totalRows = row
        if scan.fileHasIDs {
            var sorted = scan.ids
            sorted.sort()
            if let i = sorted.indices.dropFirst().first(where: { sorted[$0] == sorted[$0 - 1] }) {
                let id = sorted[i]
                let rows = scan.ids.indices.filter { scan.ids[$0] == id }.prefix(2).map { startRow + $0 }
                throw stopped("rows \(rows[0]) and \(rows[1])", "both have id \(id)")
            }
        }
        return scan
    }

    // MARK: - pass 2

    /// Stores rows `summary.firstRow...` of the file in one transaction.
    private func storeAtomically(_ path: String, _ summary: ImportSummary, scan: ImportScan,
                                 stopped: (String?, String) -> VDBError,
                                 progress: ((ImportProgress) -> Void)?) throws -> ImportSummary {
        var done = summary
        do {
            try env.writeSession { session in
                // Run again from the start if the map grows: the reader is opened inside.
                let w = try session.enter(self)
                try forEachRow(path, from: summary.firstRow, chunkRows: scan.chunkRows) { row, chunk, fraction in
                    try store(chunk, firstRow: row, firstID: summary.firstID.map { $0 + UInt64(row) }, keepUnit: Self.keepsUnitVectors(path), w, session.txn)
                    progress?(ImportProgress(phase: .storing, rows: row + chunk.count - summary.firstRow, fraction: fraction))
                }
            }
        } catch let f as RowFailure {
            throw stopped(f.location, f.problem)
        } catch let e as VDBError {
            throw stopped("rows \(summary.firstRow)..<\(summary.totalRows) (one transaction)", Self.message(e))
        }
        done.rowsStored = summary.totalRows - summary.firstRow
        done.transactions = 1
        return done
    }

    /// Stores rows `summary.firstRow...` in batches of `batchSize`, each with its checkpoint (the
    /// last batch removes it).
    private func storeResumably(_ path: String, _ summary: ImportSummary, batchSize: Int, checkpoint: ImportCheckpoint,
                                key: String, stopped: (String?, String, Int) -> VDBError,
                                progress: ((ImportProgress) -> Void)?) throws -> ImportSummary {
        var done = summary
        let propertyKey = propertyKey(key)
        try forEachRow(path, from: summary.firstRow, chunkRows: batchSize) { row, chunk, fraction in
            let end = row + chunk.count
            var mark = checkpoint
            mark.rows = end
            do {
                try env.writeSession { session in
                    let w = try session.enter(self)
                    try store(chunk, firstRow: row, firstID: summary.firstID.map { $0 + UInt64(row) }, keepUnit: Self.keepsUnitVectors(path), w, session.txn)
                    if end < summary.totalRows {
                        try session.txn.put(session.txn.dbis.state, propertyKey, Array(try JSONEncoder().encode(mark)))
                    } else {
                        try session.txn.delete(session.txn.dbis.state, propertyKey)
                    }
                }
            } catch let f as RowFailure {
                throw stopped(f.location, f.problem, row)
            } catch let e as VDBError {
                throw stopped("rows \(row)..<\(end) (one transaction)", Self.message(e), row)
            }
            done.rowsStored += chunk.count
            done.transactions += 1
            progress?(ImportProgress(phase: .storing, rows: end - summary.firstRow, fraction: fraction))
        }
        return done
    }

    /// Inserts one chunk of rows starting at file row `firstRow` inside write `w`.
    private func store(_ chunk: VectorChunk, firstRow: Int, firstID: UInt64?, keepUnit: Bool, _ w: CollectionWrite, _ txn: WriteTxn) throws {
        let ids = chunk.ids ?? firstID.map { f in (0..<chunk.count).map { f + UInt64($0) } }
        do {
            let batch = try WriteBatch(self, chunk.vectors, count: chunk.count, ids: ids, metadata: chunk.metadata, replace: false,
                                       keepUnit: keepUnit)
            _ = try write(batch, w, txn)
        } catch let e as VDBError {
            // Checked in pass 1; only a write racing this import gets here (e.g. an id stored meanwhile).
            var at = "rows \(firstRow)..<\(firstRow + chunk.count)"
            if case .duplicateID(let id) = e, let i = ids?.firstIndex(of: id) { at = "row \(firstRow + i)" }
            if let i = Self.rowIndex(e) { at = "row \(firstRow + i)" }
            throw RowFailure(location: at, problem: Self.rowless(e))
        }
    }

    /// A chunk that failed inside a transaction: where and why (mapped to `importStopped` by the caller).
    struct RowFailure: Error {
        let location: String
        let problem: String
    }

    /// Calls `body(firstRow, chunk, fraction)` for chunks of up to `chunkRows` rows from `startRow` on.
    private func forEachRow(_ path: String, from startRow: Int, chunkRows: Int,
                            _ body: (Int, VectorChunk, Double) throws -> Void) throws {
        let reader = try Self.openForImport(path)
        var row = 0
        while let chunk = try reader.next(maxCount: row < startRow ? min(chunkRows, startRow - row) : chunkRows) {
            defer { row += chunk.count }
            if row < startRow { continue }
            try body(row, chunk, reader.progress)
        }
    }

    /// The reader for `path`: a table (Parquet, Arrow) or a vector file (``VectorFiles``).
    static func openForImport(_ path: String) throws -> any VectorFileReader {
        ArrowTableReader.isTable(path) ? try ArrowTableReader.open(path) : try VectorFiles.open(path)
    }

    /// Tables (vdb exports) keep cosine vectors that already have unit length bit for bit.
    static func keepsUnitVectors(_ path: String) -> Bool { ArrowTableReader.isTable(path) }

    // MARK: - messages

    /// The vector index an error names (batch-relative), if any.
    static func rowIndex(_ e: VDBError) -> Int? {
        switch e {
        case .dimensionMismatch(_, _, let i), .nonFiniteComponent(let i, _), .zeroVector(let i): return i
        default: return nil
        }
    }

    /// The error's message without its (batch-relative) vector number.
    static func rowless(_ e: VDBError) -> String {
        switch e {
        case let .dimensionMismatch(expected, got, _): return VDBError.dimensionMismatch(expected: expected, got: got, index: nil).description
        case let .nonFiniteComponent(_, component): return VDBError.nonFiniteComponent(index: nil, component: component).description
        case .zeroVector: return VDBError.zeroVector(index: nil).description
        default: return message(e)
        }
    }

    /// The message of a reader error without the path (the import error names it once).
    static func message(_ e: VDBError) -> String {
        if case .badInput(_, let m) = e { return m }
        return e.description
    }
}

/// Size and modification time of a file, to tell whether a resumed import reads the same file.
struct FileIdentity {
    let path: String
    let size: Int
    let mtimeNanoseconds: Int64

    init(_ path: String) throws {
        let absolute = URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL.path
        var st = stat()
        guard stat(absolute, &st) == 0 else {
            throw VDBError.io(path: path, message: String(cString: strerror(errno)))
        }
        self.path = absolute
        size = Int(st.st_size)
        mtimeNanoseconds = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }
}
