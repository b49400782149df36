// `vdb import NAME FILE.parquet|.arrow|.arrows`: tables with ids and metadata (Exchange/ in VDBCore).
import Foundation
import VDBCore

enum ImportTable {
    /// Whether `file` is a table vdb imports with ``run(_:name:file:batchSize:)``.
    static func handles(_ file: String) -> Bool {
        ["parquet", "pq", "arrow", "arrows", "ipc"].contains((file as NSString).pathExtension.lowercased())
    }

    static func run(_ db: Database, name: String, file: String, batchSize: Int) throws {
        let reader = try ArrowTableReader.open(file)
        if try db.collectionNames().contains(name), case let existing = try db.collection(named: name), existing.dimension != reader.dimension {
            throw CLIError("\(file) holds \(reader.dimension)-d vectors but collection '\(name)' has dimension \(existing.dimension)")
        }
        let bar = ProgressBar(label: "importing")
        defer { bar.finish() }
        let start = Date()
        let (collection, n) = try db.importTable(reader, into: name, batchSize: batchSize) { done in
            bar.update(fraction: reader.progress, status: "\(done)\(reader.count.map { "/\($0)" } ?? "") vectors")
        }
        bar.finish()
        let secs = Date().timeIntervalSince(start)
        print("imported \(n) vectors into '\(name)' in \(String(format: "%.2f", secs)) s (\(Int((Double(n) / max(1e-9, secs)).rounded())) vectors/s); "
              + "\(try collection.count()) in total")
    }
}
