// Public read and write transactions (GRDB style): `db.read { }` reads several collections in one
// snapshot, `db.write { }` commits changes to several collections atomically.

extension Database {
    /// Runs `body` on one consistent snapshot of the whole database: every search, `get`, `count`
    /// and `info` in it sees the same committed state, whatever writes commit meanwhile.
    ///
    /// ```swift
    /// let (hits, total) = try db.read { snapshot in
    ///     let photos = try snapshot.collection(named: "photos")
    ///     return (try photos.search(query, k: 10), try photos.count())
    /// }
    /// ```
    ///
    /// Many reads run in parallel, also with a write; a read never blocks a writer. The
    /// transaction and its collection views are valid only inside `body` (using them later
    /// throws ``VDBError/transactionEnded``). Keep `body` short: LMDB keeps the pages of a
    /// snapshot until its last reader ends.
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        try env.read { txn in
            let transaction = ReadTransaction(txn: txn, database: self)
            defer { transaction.isOpen = false }
            return try body(transaction)
        }
    }

    /// Runs `body` in one write transaction and commits it: either every change `body` made, in
    /// every collection, is stored, or (when `body` throws, or the commit fails) none is.
    ///
    /// ```swift
    /// try db.write { txn in
    ///     try txn.collection(named: "photos").upsert([image], ids: [id], metadata: [meta])
    ///     try txn.collection(named: "photos.captions").upsert([caption], ids: [id])
    /// }
    /// ```
    ///
    /// Searches never see the changes before the commit, and see all of them from the commit on
    /// (each index included). Writes are serialized: one runs at a time per database, across
    /// threads and processes. Inside `body`, reads through the transaction's collection views see
    /// the transaction's own changes. If the database map must grow, the transaction is rolled
    /// back, the map doubled and `body` run again from the start, so keep side effects outside
    /// the database out of `body`. The transaction is valid only inside `body`. Inside `body`,
    /// write only through `txn`: a write method of a ``Collection`` (or a nested `write`) would
    /// wait for this transaction to end, forever.
    public func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        try env.writeSession { session in
            let transaction = WriteTransaction(session: session, database: self)
            defer { transaction.isOpen = false }
            return try body(transaction)
        }
    }
}

/// A read-only snapshot of a database, given to the closure of ``Database/read(_:)``.
public final class ReadTransaction {
    let txn: ReadTxn
    let database: Database
    var isOpen = true

    init(txn: ReadTxn, database: Database) {
        self.txn = txn
        self.database = database
    }

    /// The collection named `name` as this snapshot holds it.
    /// - Throws: ``VDBError/collectionNotFound(_:)``.
    public func collection(named name: String) throws -> CollectionReader {
        guard isOpen else { throw VDBError.transactionEnded }
        return CollectionReader(transaction: self, collection: try database.handle(named: name, txn))
    }

    /// `collection` (a handle of this database) as this snapshot holds it.
    public func collection(_ collection: Collection) throws -> CollectionReader {
        guard isOpen else { throw VDBError.transactionEnded }
        return CollectionReader(transaction: self, collection: try database.owned(collection))
    }

    /// Names of the collections in this snapshot, sorted.
    public func collectionNames() throws -> [String] {
        guard isOpen else { throw VDBError.transactionEnded }
        return try database.collectionNames(txn)
    }
}

/// A write transaction on a database, given to the closure of ``Database/write(_:)``.
public final class WriteTransaction {
    let session: WriteSession
    let database: Database
    var isOpen = true

    init(session: WriteSession, database: Database) {
        self.session = session
        self.database = database
    }

    /// The collection named `name`, to change in this transaction.
    /// - Throws: ``VDBError/collectionNotFound(_:)``.
    public func collection(named name: String) throws -> CollectionWriter {
        guard isOpen else { throw VDBError.transactionEnded }
        return CollectionWriter(transaction: self, collection: try database.handle(named: name, session.txn.reader))
    }

    /// `collection` (a handle of this database), to change in this transaction.
    public func collection(_ collection: Collection) throws -> CollectionWriter {
        guard isOpen else { throw VDBError.transactionEnded }
        return CollectionWriter(transaction: self, collection: try database.owned(collection))
    }
}

/// A collection as one ``ReadTransaction`` sees it: the read API of ``Collection``, all on the
/// transaction's snapshot.
public struct CollectionReader {
    let transaction: ReadTransaction
    /// The collection handle.
    public let collection: Collection

    func txn() throws -> ReadTxn {
        guard transaction.isOpen else { throw VDBError.transactionEnded }
        return transaction.txn
    }

    /// Number of vectors stored.
    public func count() throws -> Int { try collection.count(txn()) }

    /// The stored vector, id and metadata for `id`, or nil.
    public func get(id: UInt64) throws -> VectorRecord? { try collection.get(txn(), id: id) }

    /// For each id, whether it is stored.
    public func contains(ids: [UInt64]) throws -> [Bool] { try collection.contains(txn(), ids: ids) }

    /// Description of the collection (see ``Collection/info()``).
    public func info() throws -> CollectionInfo { try collection.info(txn()) }

    /// See ``Collection/search(_:k:parameters:filter:)``.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [SearchHit] {
        let q = try collection.queryBuffer(query)
        return try collection.search(collection.readScope(txn()), contiguous: q, k: k, parameters: parameters, filter: filter)[0]
    }

    /// See ``Collection/search(batch:k:parameters:filter:)``.
    public func search(batch queries: [[Float]], k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [[SearchHit]] {
        let q = try collection.flatten(queries)
        return try collection.search(collection.readScope(txn()), contiguous: q, k: k, parameters: parameters, filter: filter)
    }
}

/// A collection inside one ``WriteTransaction``: the write API of ``Collection`` (committed with
/// the transaction), and reads that see the transaction's own changes.
public struct CollectionWriter {
    let transaction: WriteTransaction
    /// The collection handle.
    public let collection: Collection

    func enter() throws -> (CollectionWrite, WriteTxn) {
        guard transaction.isOpen else { throw VDBError.transactionEnded }
        let session = transaction.session
        return (try session.enter(collection), session.txn)
    }

    /// See ``Collection/insert(_:ids:metadata:)``.
    @discardableResult
    public func insert(_ vectors: [[Float]], ids: [UInt64]? = nil, metadata: [Metadata?]? = nil) throws -> [UInt64] {
        let batch = try WriteBatch(collection, try collection.flatten(vectors), count: vectors.count, ids: ids, metadata: metadata, replace: false)
        let (w, txn) = try enter()
        return try collection.write(batch, w, txn)
    }

    /// See ``Collection/upsert(_:ids:metadata:)``.
    @discardableResult
    public func upsert(_ vectors: [[Float]], ids: [UInt64], metadata: [Metadata?]? = nil) throws -> [UInt64] {
        let batch = try WriteBatch(collection, try collection.flatten(vectors), count: vectors.count, ids: ids, metadata: metadata, replace: true)
        let (w, txn) = try enter()
        return try collection.write(batch, w, txn)
    }

    /// See ``Collection/delete(ids:)``.
    @discardableResult
    public func delete(ids: [UInt64]) throws -> Int {
        if ids.isEmpty { return 0 }
        let (w, txn) = try enter()
        return try collection.delete(ids: ids, w, txn)
    }

    /// Number of vectors stored, this transaction's changes included.
    public func count() throws -> Int { Int(try enter().0.state.count) }

    /// The stored vector, id and metadata for `id` (this transaction's changes included), or nil.
    public func get(id: UInt64) throws -> VectorRecord? { try collection.get(enter().1.reader, id: id) }

    /// For each id, whether it is stored (this transaction's changes included).
    public func contains(ids: [UInt64]) throws -> [Bool] { try collection.contains(enter().1.reader, ids: ids) }

    /// See ``Collection/search(_:k:parameters:filter:)``; sees this transaction's changes.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters = SearchParameters(),
                       filter: SearchFilter? = nil) throws -> [SearchHit] {
        let q = try collection.queryBuffer(query)
        let (w, txn) = try enter()
        return try collection.search(collection.writeScope(w, txn), contiguous: q, k: k, parameters: parameters, filter: filter)[0]
    }
}
