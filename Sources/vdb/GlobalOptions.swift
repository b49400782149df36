// `--db DIR`: the one option every database command takes, accepted before or after any
// subcommand name (`vdb --db D index build c`, `vdb index --db D build c`, `vdb index build c --db D`).
import ArgumentParser
import Foundation
import VDBCore

/// Options every database command accepts (an `@OptionGroup` on each leaf command).
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Database directory (default: $VDB_DB, else ~/.local/share/vdb).", valueName: "DIR"))
    var db: String?

    /// The database directory to use.
    var databasePath: String {
        if let db, !db.isEmpty { return (db as NSString).expandingTildeInPath }
        if let env = ProcessInfo.processInfo.environment["VDB_DB"], !env.isEmpty { return (env as NSString).expandingTildeInPath }
        return (NSHomeDirectory() as NSString).appendingPathComponent(".local/share/vdb")
    }

    /// Opens (creating if needed) the database.
    func open() throws -> Database {
        try Database(path: databasePath)
    }
}

/// The command line as the parser should see it.
struct NormalizedCommandLine {
    /// The arguments with every `--db DIR` / `--db=DIR` given among the subcommand names moved to
    /// just after the last of them, where the leaf command's ``GlobalOptions`` parses it.
    var arguments: [String]
    /// The subcommand names, e.g. `["index", "build"]` (for the `--help` hint of an error).
    var commandPath: [String]

    /// Walks the subcommand names of `root` from the start of `arguments`, collecting `--db`
    /// options found between them. What follows the last subcommand name is left alone: the
    /// leaf command parses `--db` there itself, and a value such as `--text --db` stays a value.
    /// When the names stop short of a command that runs (`vdb --db D index`, `vdb --db D help`),
    /// the collected `--db` is dropped, so that the parser reports what is really missing.
    init(_ arguments: [String], root: any ParsableCommand.Type) {
        var command = root
        var path: [String] = []
        var globals: [String] = []
        var i = 0
        walk: while i < arguments.count {
            let arg = arguments[i]
            if arg == "--db", i + 1 < arguments.count {
                globals += arguments[i...(i + 1)]
                i += 2
            } else if arg.hasPrefix("--db=") {
                globals.append(arg)
                i += 1
            } else if let sub = Self.subcommand(named: arg, of: command) {
                path.append(arg)
                command = sub
                i += 1
            } else {
                break walk
            }
        }
        let runs = command.configuration.subcommands.isEmpty || command.configuration.defaultSubcommand != nil
        self.arguments = path + (runs ? globals : []) + arguments[i...]
        self.commandPath = path
    }

    private static func subcommand(named name: String, of command: any ParsableCommand.Type) -> (any ParsableCommand.Type)? {
        command.configuration.subcommands.first { sub in
            let c = sub.configuration
            return c.commandName == name || c.aliases.contains(name)
        }
    }
}
