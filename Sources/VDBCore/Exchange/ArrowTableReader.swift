// Reading exported tables back: an Arrow IPC stream file directly, a Parquet file through
// pyarrow (ParquetBridge.swift). Both arrive as one Arrow stream, decoded batch by batch.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a table of vectors (Parquet, or an Arrow IPC stream) as ``VectorChunk``s with ids and
/// metadata: the files `vdb export` writes, and tables from other tools with a `vector` column
/// (fixed-size list or list of floats), an optional integer `id` column and scalar columns as
/// metadata (a null means "no value").
///
/// ```swift
/// let table = try ArrowTableReader.open("photos.parquet")
/// print(table.header.metric, table.dimension)
/// while let chunk = try table.next(maxCount: 10_000) { ... }
/// ```
public final class ArrowTableReader: VectorFileReader {
    /// The collection facts the writer stored (all nil for tables not written by vdb).
    public let header: ExchangeHeader
    public private(set) var dimension: Int
    public var count: Int? { header.count }
    public var progress: Double {
        guard let c = header.count, c > 0 else { return finished ? 1 : 0 }
        return min(1, Double(rowsReturned) / Double(c))
    }

    private let path: String
    private let stream: ArrowStreamReader
    private let decoder: VectorTableDecoder
    private let converter: ParquetBridge.Converter?
    /// Keeps the file or pipe open while reading.
    private let handle: FileHandle
    private var pending: (ids: [UInt64]?, vectors: [Float], metadata: [Metadata?])?
    private var pendingStart = 0
    private var rowsDecoded = 0
    private var rowsReturned = 0
    private var finished = false

    /// Opens `path`: Parquet (`.parquet`, `.pq`) through pyarrow, anything else as an Arrow IPC stream.
    ///
    /// - Parameter python: Python with pyarrow for Parquet (default `$VDB_PYTHON`, else `python3`).
    public static func open(_ path: String, python: String? = nil) throws -> ArrowTableReader {
        let ext = (path as NSString).pathExtension.lowercased()
        guard FileManager.default.isReadableFile(atPath: path) else { throw VDBError.io(path: path, message: "no such file (or not readable)") }
        if ext == "parquet" || ext == "pq" {
            let pipe = Pipe()
            let converter = try ParquetBridge.Converter(script: ParquetBridge.readerScript, file: path, python: python,
                                                        stdin: nil, stdout: pipe)
            try? pipe.fileHandleForWriting.close()  // our copy: the stream ends when the converter exits
            do {
                return try ArrowTableReader(path: path, handle: pipe.fileHandleForReading, converter: converter)
            } catch {
                try? pipe.fileHandleForReading.close()  // a converter blocked on a full pipe then ends
                throw converter.failureIfFailed() ?? error
            }
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw VDBError.io(path: path, message: "cannot open for reading") }
        return try ArrowTableReader(path: path, handle: handle, converter: nil)
    }

    private init(path: String, handle: FileHandle, converter: ParquetBridge.Converter?) throws {
        self.path = path
        self.handle = handle
        self.converter = converter
        let source = FileDescriptorSource(fd: handle.fileDescriptor, name: path)
        stream = try ArrowStreamReader(source: source)
        header = ExchangeHeader(schemaMetadata: stream.schema.metadata)
        decoder = try VectorTableDecoder(schema: stream.schema, source: path)
        dimension = decoder.dimension
        if dimension == 0 {
            // A list<float> column without a recorded dimension: the first row tells.
            _ = try fill()
        }
    }

    deinit { try? handle.close() }

    /// Decodes the next record batch into `pending`; false at the end of the stream.
    private func fill() throws -> Bool {
        guard !finished else { return false }
        let batch: (length: Int, columns: [ArrowArrayData])?
        do { batch = try stream.nextBatch() } catch {
            try? handle.close()
            throw converter?.failureIfFailed() ?? error
        }
        guard let batch else {
            finished = true
            try converter?.finish()
            return false
        }
        let rows = try decoder.decode(length: batch.length, columns: batch.columns, firstRow: rowsDecoded)
        if dimension == 0 { dimension = rows.dimension }
        guard rows.dimension == dimension || batch.length == 0 else {
            throw VDBError.badInput(path: path, message: "row \(rowsDecoded) has a \(rows.dimension)-component vector, expected \(dimension)")
        }
        rowsDecoded += batch.length
        pending = (rows.ids, rows.vectors, rows.metadata)
        pendingStart = 0
        return true
    }

    public func next(maxCount: Int) throws -> VectorChunk? {
        var ids: [UInt64] = [], vectors: [Float] = [], metadata: [Metadata?] = []
        var hasIDs = false, anyMetadata = false
        while metadata.count < maxCount {
            if pending == nil || pendingStart >= pending!.metadata.count {
                pending = nil
                if try !fill() { break }
                continue
            }
            let p = pending!
            let take = min(maxCount - metadata.count, p.metadata.count - pendingStart)
            let range = pendingStart..<(pendingStart + take)
            if let pid = p.ids { ids += pid[range]; hasIDs = true }
            vectors += p.vectors[(range.lowerBound * dimension)..<(range.upperBound * dimension)]
            metadata += p.metadata[range]
            if !anyMetadata { anyMetadata = p.metadata[range].contains { $0 != nil } }
            pendingStart += take
        }
        if metadata.isEmpty { return nil }
        rowsReturned += metadata.count
        return VectorChunk(dimension: dimension, vectors: vectors, ids: hasIDs ? ids : nil, metadata: anyMetadata ? metadata : nil)
    }
}
