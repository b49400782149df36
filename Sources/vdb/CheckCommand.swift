import ArgumentParser
import Foundation
import VDBCore

/// `vdb check [NAME] [--json]`
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify the integrity of a database, or of one collection.",
        discussion: """
            Reads every record of one consistent snapshot (writers may keep running) and \
            checks: the data file's size against LMDB's own metadata; the catalog; per \
            collection the CRC32C of every vector block, metadata record and index record, the \
            count, the id map against the ids in the blocks, the free list, and the invariants \
            of the index (HNSW links point at live nodes, IVF lists hold every vector once). \
            Nothing is written. Exit status 0 when everything is intact, 1 when a problem was \
            found (each is printed) or the database cannot be opened.
            --json prints {"path", "format_version", "file_bytes", "required_bytes", "ok", \
            "problems", "collections": [{"name", "count", "blocks", "metadata_records", \
            "index_records", "index", "ok", "problems"}]}.

            Examples:
              vdb check
              vdb check docs --json
              vdb check --db /backups/vdb-2024-06-01
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name (all collections and the catalog if omitted).")
    var name: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let db = try global.open()
        let report = try db.check(collection: name)
        if json {
            try JSONLineWriter.print(CheckReportJSON(report))
        } else {
            print(Self.text(report))
        }
        if !report.ok {
            throw CLIError("check found \(report.problemCount) problem(s) in \(report.path)")
        }
    }

    /// The report as lines of text: one line per collection, each problem indented under it.
    static func text(_ r: CheckReport) -> String {
        var lines = ["database \(r.path) (format \(r.formatVersion), data.mdb \(formatBytes(r.fileBytes)), LMDB needs \(formatBytes(r.requiredBytes)))"]
        lines += r.problems.map { "  problem: \($0)" }
        for c in r.collections {
            let index = c.index == .flat ? "" : ", \(c.index) index"
            lines.append("\(c.name): \(c.ok ? "ok" : "FAILED") (\(c.count) vectors in \(c.blocks) blocks, \(c.metadataRecords) metadata records, \(c.indexRecords) index records\(index))")
            lines += c.problems.map { "  problem: \($0)" }
        }
        if r.collections.isEmpty { lines.append("no collections") }
        lines.append(r.ok ? "check passed" : "check FAILED: \(r.problemCount) problem(s)")
        return lines.joined(separator: "\n")
    }
}

/// `vdb backup DIR [--json]`
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent, compacted copy of the database into a directory, and check it.",
        discussion: """
            The copy is one committed state of the whole database (LMDB's compacting copy over \
            one read transaction): other processes may keep reading and writing while it runs. \
            DIR must be absent or empty; it becomes a database directory of its own (use it \
            with --db DIR). The copy is flushed to disk and then checked as `vdb check` does; \
            the exit status is 1 if that check fails.
            To restore: stop every process using the database, then replace its data.mdb with \
            the backup's (Docs/reliability.md#backups).

            Examples:
              vdb backup /backups/vdb-$(date +%F)
              vdb --db ~/photos.vdb backup /mnt/usb/photos-backup --json
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Directory to write the backup into (absent or empty).", valueName: "DIR"))
    var directory: String

    @Flag(help: "Print {\"path\", \"bytes\", \"check\": {...}} as JSON.")
    var json = false

    func run() throws {
        let db = try global.open()
        let summary = try db.backup(to: directory)
        if json {
            try JSONLineWriter.print(BackupJSON(path: summary.path, bytes: summary.bytes, check: CheckReportJSON(summary.check)))
        } else {
            print("backed up \(db.path) to \(summary.path) (\(formatBytes(summary.bytes)), \(summary.check.collections.count) collections); check of the backup: \(summary.check.ok ? "passed" : "FAILED")")
            if !summary.check.ok { print(CheckCommand.text(summary.check)) }
        }
        if !summary.check.ok {
            throw CLIError("the backup in \(summary.path) fails its check (\(summary.check.problemCount) problem(s)); the database itself may be damaged: run vdb check")
        }
    }
}
