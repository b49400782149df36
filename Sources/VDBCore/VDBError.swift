import CLMDB
import Foundation

/// Every error vdb reports. `description` is one line naming the problem and, where useful,
/// the value that caused it.
public enum VDBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A vector (or query) has the wrong number of components.
    case dimensionMismatch(expected: Int, got: Int, index: Int?)
    /// A vector (or query) has a NaN or infinite component.
    case nonFiniteComponent(index: Int?, component: Int)
    /// A cosine collection cannot store or search an all-zero vector (no direction).
    case zeroVector(index: Int?)
    /// `k` must be at least 1.
    case invalidK(Int)
    /// An argument is out of range or inconsistent (message says which).
    case invalidArgument(String)
    /// No collection with this name.
    case collectionNotFound(String)
    /// A collection with this name already exists.
    case collectionExists(String)
    /// The collection name is empty or has characters that are not allowed.
    case invalidCollectionName(String)
    /// `insert` was given an id that is already stored (use `upsert` to replace).
    case duplicateID(UInt64)
    /// The same id appears twice in one call.
    case repeatedID(UInt64)
    /// The directory is not a vdb database.
    case notADatabase(path: String, reason: String)
    /// The database was written by a format version this build does not read.
    case incompatibleFormat(path: String, found: Int, supported: Int)
    /// The disk (or quota) is full. The write transaction that hit it was rolled back: nothing of
    /// that transaction was stored (earlier transactions, e.g. earlier batches of a batched
    /// import, stay committed; callers that ran several say what they committed).
    case diskFull(path: String)
    /// Another storage-level failure: the LMDB call that failed, its C return code and LMDB's message.
    case storage(operation: String, code: Int32, message: String)
    /// A file could not be read or written.
    case io(path: String, message: String)
    /// A vector file (fvecs, npy, jsonl...) is malformed.
    case badInput(path: String, message: String)
    /// Stored data does not decode (corruption or a bug).
    case corrupt(String)
    /// The collection's index kind has no implementation registered in this build.
    case indexUnavailable(IndexKind)
    /// An index build or search parameter is out of range (the message names the allowed range).
    case invalidParameter(name: String, value: Int, reason: String)
    /// An index was asked to be built over a collection with no vectors.
    case emptyIndex(IndexKind)
    /// IVF: more inverted lists than vectors to train them on.
    case nlistExceedsVectors(nlist: Int, vectors: Int)
    /// A persisted index record is missing or malformed.
    case corruptIndexRecord(key: String, reason: String)
    /// The persisted index records were written for another index kind, dimension, metric or
    /// record version.
    case incompatibleIndex(String)
    /// ``Collection/importFile(_:options:progress:)`` stopped at `location` (a row, a range of
    /// rows, or nil for the whole file) because of `problem`. Rows `0..<committedRows` of the
    /// file are stored (by earlier transactions of a resumable import: 0 for an atomic one),
    /// nothing after them.
    case importStopped(path: String, location: String?, problem: String, committedRows: Int)
    /// A ``ReadTransaction`` or ``WriteTransaction`` (or a collection view of one) was used after
    /// the closure it was given to returned.
    case transactionEnded
    /// A ``Filter`` (JSON or `--where` shorthand) is malformed; the message names the part
    /// (`filter.must[1].range.gte`, or the column of a shorthand) and what was found there.
    case invalidFilter(String)

    public var description: String {
        switch self {
        case let .dimensionMismatch(expected, got, index):
            return "wrong dimension\(index.map { " in vector \($0)" } ?? ""): expected \(expected), got \(got)"
        case let .nonFiniteComponent(index, component):
            return "vector\(index.map { " \($0)" } ?? "") has a NaN or infinite value at component \(component)"
        case let .zeroVector(index):
            return "vector\(index.map { " \($0)" } ?? "") is all zeros and cannot be normalized for cosine"
        case let .invalidK(k):
            return "k must be at least 1 (got \(k))"
        case let .invalidArgument(m):
            return m
        case let .collectionNotFound(n):
            return "no collection named '\(n)'"
        case let .collectionExists(n):
            return "a collection named '\(n)' already exists"
        case let .invalidCollectionName(n):
            return "invalid collection name '\(n)': use 1-128 letters, digits, '_', '-' or '.'"
        case let .duplicateID(id):
            return "id \(id) already exists (use upsert to replace it)"
        case let .repeatedID(id):
            return "id \(id) appears more than once in the same call"
        case let .notADatabase(path, reason):
            return "\(path) is not a vdb database: \(reason)"
        case let .incompatibleFormat(path, found, supported):
            return "\(path) was written in vdb format version \(found); this build reads version \(supported)"
        case let .diskFull(path):
            return "no space left on the device holding \(path); this write was rolled back (nothing of it was stored)"
        case let .storage(op, code, message):
            return "storage error in \(op): \(message) (code \(code))"
        case let .io(path, message):
            return "\(path): \(message)"
        case let .badInput(path, message):
            return "\(path): \(message)"
        case let .corrupt(m):
            return "corrupt database: \(m)"
        case let .indexUnavailable(kind):
            return "index kind '\(kind)' is not available in this build"
        case let .invalidParameter(name, value, reason):
            return "invalid \(name) \(value): \(reason)"
        case let .emptyIndex(kind):
            return "cannot build a \(kind) index over zero vectors: add vectors to the collection first"
        case let .nlistExceedsVectors(nlist, vectors):
            return "nlist \(nlist) exceeds the number of vectors (\(vectors)): use nlist <= \(vectors) (about sqrt(n) to 4*sqrt(n) is typical)"
        case let .corruptIndexRecord(key, reason):
            return "corrupt index record \(key): \(reason); rebuild the index (vdb index build)"
        case let .incompatibleIndex(reason):
            return "the stored index cannot be read: \(reason); rebuild the index (vdb index build)"
        case let .importStopped(path, location, problem, committed):
            let what = committed == 0
                ? "nothing was imported (the collection is unchanged)"
                : "rows 0..<\(committed) of the file stay committed (earlier transactions), nothing after them; run the import again in resumable mode to continue from row \(committed)"
            return "\(path): \(location.map { "\($0): " } ?? "")\(problem); \(what)"
        case .transactionEnded:
            return "a transaction was used after its read { } or write { } closure returned"
        case let .invalidFilter(m):
            return "invalid filter: \(m)"
        }
    }

    init(_ f: LMDBFailure, path: String) {
        switch f.code {
        case ENOSPC, EDQUOT:
            self = .diskFull(path: path)
        case MDB_INVALID, MDB_VERSION_MISMATCH:
            self = .notADatabase(path: path, reason: f.message)
        case MDB_CORRUPTED, MDB_PAGE_NOTFOUND:
            self = .corrupt("\(f.operation): \(f.message)")
        default:
            self = .storage(operation: f.operation, code: f.code, message: f.message)
        }
    }
}

extension VDBError: LocalizedError {
    public var errorDescription: String? { description }
}
