import ArgumentParser
import Foundation

/// The vdb command line: a thin layer over VDBCore (and the CLIP / ingest libraries).
struct VDB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vdb",
        abstract: "An embedded vector database with CLIP ingest.",
        discussion: """
            The database directory is --db DIR, else $VDB_DB, else ~/.local/share/vdb.
            --db may be given before or after any subcommand name.
            --threads N means the same in every command: worker threads for its work, \
            0 = all cores.
            --json prints JSON with snake_case keys, one object per line (Docs/cli.md \
            shows each shape).

            Examples:
              vdb create docs --dim 384 --metric cosine
              vdb import docs base.fvecs
              vdb search docs -k 10 --queries query.fvecs --json
              vdb info
            """,
        subcommands: [CreateCommand.self, ImportCommand.self, SearchCommand.self, InfoCommand.self,
                      DeleteCommand.self, DropCommand.self, IndexCommand.self, FieldCommand.self, IngestCommand.self,
                      EmbedCommand.self, ClassifyCommand.self, BenchCommand.self, ServeCommand.self,
                      ExportCommand.self, MergeCommand.self, CheckCommand.self, BackupCommand.self])
}

/// Prints `error` once, as one line on stderr, and returns the exit status: 64 (with a pointer to
/// `--help`) for a malformed command line or a value out of range, 1 for anything that went
/// wrong while the command ran. Help and version requests print their text and succeed.
func report(_ error: any Error, commandPath: [String]) -> Int32 {
    if error is CleanExit || error is ExitCode { VDB.exit(withError: error) }
    let code = VDB.exitCode(for: error)
    if code == .success { VDB.exit(withError: error) }
    if code == .validationFailure {
        // Argument mistakes (from the parser or a `validate()`): the first line of the parser's message.
        let message = VDB.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
        let trimmed = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
        printErr("error: \(trimmed) (see '\((["vdb"] + commandPath).joined(separator: " ")) --help')")
        return code.rawValue
    }
    printErr("error: \(oneLineDescription(error))")
    return 1
}

/// The message of any error on one line: the libraries' errors each have a one-line `description`;
/// Foundation's errors have a localized description.
func oneLineDescription(_ error: any Error) -> String {
    let text = (error as? any LocalizedError)?.errorDescription ?? String(describing: error)
    return text.split(whereSeparator: \.isNewline).joined(separator: " ")
}

let commandLine = NormalizedCommandLine(Array(CommandLine.arguments.dropFirst()), root: VDB.self)
do {
    var command = try VDB.parseAsRoot(commandLine.arguments)
    try command.run()
} catch {
    exit(report(error, commandPath: commandLine.commandPath))
}
