import ArgumentParser
import VDBCore

/// `vdb delete NAME --ids 1,2,3`
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete vectors by id (ids that are not stored are ignored).",
        discussion: """
            Examples:
              vdb delete docs --ids 1,2,3
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Option(parsing: .unconditional, help: "Comma-separated ids to delete.")
    var ids: String

    func validate() throws {
        if try parseIDs(ids, option: "--ids").isEmpty { throw ValidationError("--ids: no ids given") }
    }

    func run() throws {
        let list = try parseIDs(ids, option: "--ids")
        let db = try global.open()
        let n = try db.collection(named: name).delete(ids: list)
        print("deleted \(n) of \(Set(list).count) ids from '\(name)'")
    }
}
