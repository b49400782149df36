import ArgumentParser
import VDBCore

/// `vdb drop NAME`
struct DropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Delete a collection with all its vectors, metadata and index.",
        discussion: """
            Examples:
              vdb drop docs
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    func run() throws {
        let db = try global.open()
        let count = try db.collection(named: name).count()
        try db.dropCollection(named: name)
        print("dropped collection '\(name)' (\(count) vectors)")
    }
}
