// `vdb import NAME FILE.parquet|.arrow|.arrows`: tables with ids and metadata (Exchange/ in VDBCore)
// bring the collection's dimension, metric and properties; the rows themselves are imported like
// any vector file (`Collection.importFile`: all or nothing, or `--resume`).
import Foundation
import VDBCore

enum ImportTable {
    /// Whether `file` is a table (Parquet or Arrow).
    static func handles(_ file: String) -> Bool { ArrowTableReader.isTable(file) }

    /// The collection a table is imported into: `name`, created from the table's header when it
    /// does not exist (`created` then says so).
    static func collection(_ db: Database, name: String, file: String) throws -> (Collection, created: Bool) {
        let existed = try db.collectionNames().contains(name)
        let reader = try ArrowTableReader.open(file)
        if existed, case let existing = try db.collection(named: name), existing.dimension != reader.dimension {
            throw CLIError("\(file) holds \(reader.dimension)-d vectors but collection '\(name)' has dimension \(existing.dimension)")
        }
        return (try db.tableCollection(for: reader, named: name), !existed)
    }
}
