// `Collection.export`: one consistent snapshot of a collection written, a batch at a time, as
// Parquet (Arrow IPC piped to pyarrow, see ParquetBridge.swift), an Arrow IPC stream, JSONL or
// NumPy .npy. The table layout is described in VectorTable.swift.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File formats ``Collection/export(to:format:options:progress:)`` writes.
public enum ExportFormat: String, Sendable, CaseIterable, Codable {
    /// Parquet (through pyarrow): `id`, `vector` (fixed-size list of float32), one typed column per
    /// metadata key, the collection described in the schema metadata. Read back by `vdb import`.
    case parquet
    /// The same table as an Arrow IPC stream (`.arrows`), written by vdb alone (no Python).
    case arrow
    /// One `{"id": ..., "vector": [...], "metadata": {...}}` per line (the format `vdb import` reads).
    case jsonl
    /// A 2-D float32 NumPy array of the vectors, and the ids in `<name>.ids.npy` (uint64), same order.
    case npy

    /// The format implied by a file name's extension, if any.
    public init?(path: String) {
        switch (path as NSString).pathExtension.lowercased() {
        case "parquet", "pq": self = .parquet
        case "arrow", "arrows", "ipc": self = .arrow
        case "jsonl", "ndjson": self = .jsonl
        case "npy": self = .npy
        default: return nil
        }
    }
}

/// Settings of an export.
public struct ExportOptions: Sendable {
    /// Vectors per batch (one Arrow record batch; memory is bounded by a few batches).
    public var batchSize: Int
    /// Type of the `id` column (Parquet and Arrow).
    public var idType: ExportIDType
    /// Python with pyarrow for Parquet (default: `$VDB_PYTHON`, else `python3`).
    public var python: String?

    public init(batchSize: Int = 4096, idType: ExportIDType = .uint64, python: String? = nil) {
        self.batchSize = batchSize
        self.idType = idType
        self.python = python
    }
}

/// What an export wrote.
public struct ExportSummary: Sendable, Codable, Hashable {
    public var collection: String
    public var format: ExportFormat
    /// The files written (for `npy`, the vectors then the ids).
    public var files: [String]
    /// Vectors written.
    public var count: Int
    /// Bytes vdb produced (for Parquet: the Arrow stream handed to pyarrow).
    public var bytes: Int
    public var seconds: Double
}

extension Collection {
    /// Writes every vector of one consistent snapshot, with its id and metadata, to `path`.
    ///
    /// Memory stays bounded by `options.batchSize` vectors. The file appears only when complete
    /// (written under a temporary name, then renamed).
    ///
    /// - Parameter progress: called after each batch with (vectors written, total).
    /// - Throws: ``VDBError/io(path:message:)`` when the file cannot be written or Parquet's
    ///   pyarrow is missing or fails; ``VDBError/invalidArgument(_:)`` for an id that does not
    ///   fit `int64` ids, or a non-finite metadata number in JSONL.
    @discardableResult
    public func export(to path: String, format: ExportFormat, options: ExportOptions = ExportOptions(),
                       progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> ExportSummary {
        let start = Date()
        let properties = try self.properties()
        var files = [path]
        var bytes = 0
        let count: Int = try withSnapshot { snap in
            let total = snap.count
            var done = 0
            func report(_ n: Int) { done += n; progress?(done, total) }
            switch format {
            case .arrow, .parquet:
                let header = ExchangeHeader(collection: name, metric: metric, dimension: dimension, count: total, properties: properties)
                let encoder = VectorTableEncoder(dimension: dimension, idType: options.idType, kinds: try snap.metadataKinds(), header: header)
                let write = { (sink: FileDescriptorSink) throws in
                    let writer = ArrowStreamWriter(sink: sink)
                    try writer.writeSchema(encoder.schema)
                    try snap.forEachBatch(size: options.batchSize) { ids, vectors, metas in
                        try writer.writeBatch(length: ids.count, columns: try encoder.batch(ids: ids, vectors: vectors, metadata: metas))
                        report(ids.count)
                        return true
                    }
                    try writer.finish()
                    bytes = sink.bytesWritten
                }
                if format == .arrow {
                    try AtomicFile.write(path) { fd in try write(FileDescriptorSink(fd: fd, name: path)) }
                } else {
                    let pipe = Pipe()
                    let converter = try ParquetBridge.Converter(script: ParquetBridge.writerScript, file: path,
                                                                python: options.python, stdin: pipe, stdout: nil)
                    do {
                        try write(FileDescriptorSink(fd: pipe.fileHandleForWriting.fileDescriptor, name: "\(converter.python) (Parquet writer)"))
                    } catch {
                        // Closing the pipe makes the converter drop its partial file and exit.
                        try? pipe.fileHandleForWriting.close()
                        let failure = converter.failure()
                        // A failed write to the pipe means the converter died first: its reason is the useful one.
                        if case VDBError.io(_, let message) = error, message.hasPrefix("write failed") { throw failure }
                        throw error
                    }
                    try pipe.fileHandleForWriting.close()
                    try converter.finish()
                }
            case .jsonl:
                try AtomicFile.write(path) { fd in
                    let sink = FileDescriptorSink(fd: fd, name: path)
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    try snap.forEachBatch(size: options.batchSize) { ids, vectors, metas in
                        var text = ""
                        text.reserveCapacity(ids.count * (dimension * 12 + 64))
                        for (i, id) in ids.enumerated() {
                            text += "{\"id\": \(id), \"vector\": ["
                            for j in 0..<dimension {
                                if j > 0 { text += ", " }
                                text += "\(vectors[i * dimension + j])"
                            }
                            text += "]"
                            if let m = metas[i], !m.isEmpty { text += ", \"metadata\": " + (try Self.jsonObject(m, id: id, encoder: encoder)) }
                            text += "}\n"
                        }
                        try sink.write(Array(text.utf8))
                        report(ids.count)
                        return true
                    }
                    bytes = sink.bytesWritten
                }
            case .npy:
                let idsPath = Self.idsPath(forNpy: path)
                files.append(idsPath)
                try AtomicFile.write(path) { fd in
                    try AtomicFile.write(idsPath) { idFD in
                        let sink = FileDescriptorSink(fd: fd, name: path), idSink = FileDescriptorSink(fd: idFD, name: idsPath)
                        try sink.write(Self.npyHeader(descr: "<f4", shape: "(\(total), \(dimension))"))
                        try idSink.write(Self.npyHeader(descr: "<u8", shape: "(\(total),)"))
                        try snap.forEachBatch(size: options.batchSize, metadata: false) { ids, vectors, _ in
                            try vectors.withUnsafeBytes { try sink.write($0) }
                            try ids.map(\.littleEndian).withUnsafeBytes { try idSink.write($0) }
                            report(ids.count)
                            return true
                        }
                        bytes = sink.bytesWritten + idSink.bytesWritten
                    }
                }
            }
            return done
        }
        return ExportSummary(collection: name, format: format, files: files, count: count, bytes: bytes,
                             seconds: Date().timeIntervalSince(start))
    }

    /// The ids file written next to a `.npy` export: `vectors.npy` -> `vectors.ids.npy`.
    public static func idsPath(forNpy path: String) -> String {
        (path.lowercased().hasSuffix(".npy") ? String(path.dropLast(4)) : path) + ".ids.npy"
    }

    /// A NumPy format 1.0 header, padded so the data starts at a multiple of 64 bytes.
    static func npyHeader(descr: String, shape: String) -> [UInt8] {
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + dict.utf8.count + 1) % 64 != 0 { dict += " " }
        dict += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        withUnsafeBytes(of: UInt16(dict.utf8.count).littleEndian) { out += $0 }
        return out + Array(dict.utf8)
    }

    /// Metadata as a JSON object (keys sorted, by `encoder`); a non-finite number is an error
    /// naming the id and key, since JSON cannot hold it.
    static func jsonObject(_ m: Metadata, id: UInt64, encoder: JSONEncoder) throws -> String {
        for (k, v) in m {
            if case .double(let d) = v, !d.isFinite {
                throw VDBError.invalidArgument("id \(id): metadata '\(k)' is \(d), which JSON cannot hold; export as parquet or arrow")
            }
        }
        return String(decoding: try encoder.encode(m), as: UTF8.self)
    }
}

/// Writes a file under a temporary name in the same folder and renames it into place only when
/// `body` succeeds, so a failed or interrupted export never leaves a partial file behind.
enum AtomicFile {
    static func write(_ path: String, _ body: (Int32) throws -> Void) throws {
        let tmp = path + ".partial-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw VDBError.io(path: path, message: "cannot create: \(String(cString: strerror(errno)))") }
        do {
            try body(fd)
            guard fsync(fd) == 0 else { throw VDBError.io(path: path, message: "fsync failed: \(String(cString: strerror(errno)))") }
            close(fd)
            guard rename(tmp, path) == 0 else { throw VDBError.io(path: path, message: "cannot rename into place: \(String(cString: strerror(errno)))") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
    }
}
