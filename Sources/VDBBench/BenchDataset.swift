import Foundation
import VDBCore

/// Locating and loading benchmark datasets: base vectors, queries and ground truth.
enum BenchDataset {
    /// The files of a dataset folder for one metric.
    struct Files: Sendable, Equatable {
        var base: String
        var queries: String
        /// Ground truth for the metric, if the folder has it.
        var groundTruth: String?
    }

    /// Finds `base.{fvecs,bvecs,npy}`, `query.*` (or `queries.*`) and the ground truth of `metric`
    /// in `folder`: `gt_l2.ivecs` for `l2`, `gt_ip.ivecs` for `ip` and `cosine` (ann-dev's
    /// convention: inner product on normalized vectors), else `gt.ivecs` / `groundtruth.ivecs`.
    static func discover(folder: String, metric: Metric) throws(BenchError) -> Files {
        let fm = FileManager.default
        func first(_ stems: [String], _ exts: [String]) -> String? {
            for s in stems { for e in exts where fm.fileExists(atPath: folder + "/" + s + e) { return folder + "/" + s + e } }
            return nil
        }
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw .io(path: folder, reason: "dataset folder does not exist")
        }
        let vec = [".fvecs", ".bvecs", ".npy"]
        guard let base = first(["base"], vec) else { throw .io(path: folder, reason: "no base.fvecs, base.bvecs or base.npy in the dataset folder") }
        guard let queries = first(["query", "queries"], vec) else {
            throw .io(path: folder, reason: "no query.fvecs, query.bvecs or query.npy in the dataset folder")
        }
        let tag = metric == .l2 ? "l2" : "ip"
        return Files(base: base, queries: queries, groundTruth: first(["gt_" + tag, "groundtruth_" + tag, "gt", "groundtruth"], [".ivecs"]))
    }

    /// Loads a whole vector file (`.fvecs`, `.bvecs`, `.npy`, `.jsonl`) with vdb's readers
    /// (``VectorFiles``); `.bvecs` bytes are widened to Float.
    static func loadVectors(_ path: String) throws -> BenchVectors {
        let chunk = try VectorFiles.readAll(path)
        guard chunk.dimension > 0, chunk.count > 0 else { throw BenchError.corruptFile(path: path, reason: "holds no vectors") }
        return try BenchVectors(dimension: chunk.dimension, data: chunk.vectors)
    }

    /// Loads ground truth (`.ivecs`, rows of 0-based base ids, best first).
    static func loadNeighbors(_ path: String) throws -> BenchNeighborRows {
        let rows = try VectorFiles.readIvecs(path)
        guard let width = rows.first?.count, width > 0 else { throw BenchError.corruptFile(path: path, reason: "holds no rows") }
        guard rows.allSatisfy({ $0.count == width }) else {
            throw BenchError.corruptFile(path: path, reason: "rows have different lengths")
        }
        return try BenchNeighborRows(width: width, ids: rows.flatMap { $0 })
    }

    /// Loads metadata for `rows` base vectors: a JSONL file with one object of strings, numbers
    /// and booleans per line (an empty line or `null` for a row without metadata).
    static func loadMetadata(_ path: String, rows: Int) throws -> [Metadata?] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw BenchError.io(path: path, reason: "cannot read the metadata file (\(error.localizedDescription))")
        }
        var out: [Metadata?] = []
        out.reserveCapacity(rows)
        let decoder = JSONDecoder()
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where out.count < rows {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed == "null" {
                if i < rows { out.append(nil) }
                continue
            }
            do {
                out.append(try decoder.decode([String: BenchMetadataValue].self, from: Data(trimmed.utf8)).mapValues(\.value))
            } catch {
                throw BenchError.corruptFile(path: path, reason: "line \(i + 1) is not a JSON object of strings, numbers and booleans")
            }
        }
        guard out.count == rows else {
            throw BenchError.corruptFile(path: path, reason: "holds metadata for \(out.count) rows, the base has \(rows)")
        }
        return out
    }

    /// A metadata value as JSON gives it (integers stay integers).
    struct BenchMetadataValue: Decodable {
        var value: MetadataValue
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { value = .bool(b) }
            else if let i = try? c.decode(Int64.self) { value = .int(i) }
            else if let d = try? c.decode(Double.self) { value = .double(d) }
            else { value = .string(try c.decode(String.self)) }
        }
    }

    /// The first `n` rows of `rows`.
    static func firstRows(_ rows: BenchNeighborRows, _ n: Int) throws(BenchError) -> BenchNeighborRows {
        try BenchNeighborRows(width: rows.width, ids: Array(rows.ids[0 ..< min(n, rows.count) * rows.width]))
    }
}
