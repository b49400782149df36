import ArgumentParser
import Foundation
import VDBCore

/// The vdb command line: a thin layer over VDBCore (and the CLIP / ingest libraries).
struct VDB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vdb",
        abstract: "An embedded vector database with CLIP ingest.",
        discussion: """
            The database directory is --db DIR, else $VDB_DB, else ~/.local/share/vdb.
            --db may be given before or after the subcommand.

            Examples:
              vdb create docs --dim 384 --metric cosine
              vdb import docs base.fvecs
              vdb search docs -k 10 --queries query.fvecs --json
              vdb info
            """,
        subcommands: [CreateCommand.self, ImportCommand.self, SearchCommand.self, InfoCommand.self,
                      DeleteCommand.self, DropCommand.self, IndexCommand.self, IngestCommand.self,
                      EmbedCommand.self, ClassifyCommand.self, BenchCommand.self, ExportCommand.self, MergeCommand.self])
}

/// Moves a leading `--db DIR` (or `--db=DIR`) after the subcommand name, so the global option
/// works on either side of the subcommand.
func normalizedArguments(_ args: [String]) -> [String] {
    var args = args
    var global: [String] = []
    while let first = args.first {
        if first == "--db", args.count >= 2 {
            global += args.prefix(2); args.removeFirst(2)
        } else if first.hasPrefix("--db=") {
            global.append(first); args.removeFirst()
        } else { break }
    }
    guard !global.isEmpty, let sub = args.first else { return global + args }
    return [sub] + global + args.dropFirst()
}

do {
    var command = try VDB.parseAsRoot(normalizedArguments(Array(CommandLine.arguments.dropFirst())))
    try command.run()
} catch let e as CLIError {
    printErr("error: \(e.description)")
    exit(1)
} catch {
    let code = VDB.exitCode(for: error)
    if code == .success || error is CleanExit {
        VDB.exit(withError: error)  // --help, --version
    }
    // Argument mistakes: one line, plus where to get help.
    let message = VDB.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    let trimmed = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
    printErr("error: \(trimmed) (see 'vdb --help')")
    exit(code.rawValue == 0 ? 1 : code.rawValue)
}
