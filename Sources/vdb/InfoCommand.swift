import ArgumentParser
import Foundation
import VDBCore

/// `vdb info [NAME] [--json]`
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the collections of a database, or one collection.",
        discussion: """
            Shows dimension, metric, vector count, index and bytes on disk.

            Examples:
              vdb info
              vdb info docs --json
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name (all collections if omitted).")
    var name: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let db = try global.open()
        if let name {
            let info = try db.collection(named: name).info()
            if json { try JSONLineWriter.print(CollectionInfoJSON(info)) } else { print(Self.table([info])) }
        } else {
            // A collection that cannot be read is listed with its error; the others still show.
            let statuses = try db.collectionStatuses()
            let all = statuses.compactMap { try? $0.info.get() }
            let failed: [(name: String, error: VDBError)] = statuses.compactMap {
                if case .failure(let e) = $0.info { return ($0.name, e) } else { return nil }
            }
            if json {
                try JSONLineWriter.print(DatabaseInfoJSON(
                    path: db.path, bytesOnDisk: db.bytesOnDisk, collections: all.map(CollectionInfoJSON.init),
                    unreadable: failed.isEmpty ? nil : failed.map { .init(name: $0.name, error: $0.error.description) }))
            } else {
                print("database \(db.path) (\(formatBytes(db.bytesOnDisk)) on disk)")
                print(statuses.isEmpty ? "no collections" : Self.table(all))
                for f in failed { print("\(f.name): cannot be read: \(f.error)") }
            }
            if !failed.isEmpty {
                throw CLIError("\(failed.count) collection(s) could not be read (\(failed.map(\.name).joined(separator: ", "))); run vdb check")
            }
        }
    }

    static func indexDescription(_ i: CollectionInfo) -> String {
        switch i.index {
        case .flat: return "flat"
        case .ivfFlat, .ivfSQ8: return "\(i.index)(nlist=\(i.parameters.nlist))\(i.indexBuilt ? "" : " not built")"
        case .hnsw: return "hnsw(M=\(i.parameters.m),efc=\(i.parameters.efConstruction))\(i.indexBuilt ? "" : " not built")"
        }
    }

    static func table(_ infos: [CollectionInfo]) -> String {
        let header = ["name", "dim", "metric", "count", "index", "on disk"]
        let rows = infos.map { [$0.name, String($0.dimension), $0.metric.rawValue, String($0.count), indexDescription($0), formatBytes($0.bytesOnDisk)] }
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        func fmt(_ r: [String]) -> String {
            r.enumerated().map { c, s in s.padding(toLength: widths[c], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return ([fmt(header)] + rows.map(fmt)).joined(separator: "\n")
    }
}
