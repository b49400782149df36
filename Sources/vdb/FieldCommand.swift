import ArgumentParser
import VDBCore

/// Parses `--field` / `vdb field add` values (`NAME:TYPE`); the message names the bad one.
func parseFields(_ specs: [String]) throws -> [FieldDefinition] {
    try specs.map { spec in
        do { return try FieldDefinition(parsing: spec) } catch let e as VDBError { throw ValidationError(e.description) }
    }
}

/// `vdb field add|list|drop`: the indexed metadata fields of a collection.
struct FieldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "field",
        abstract: "Declare, list or drop the indexed metadata fields of a collection.",
        discussion: """
            An indexed field is a metadata key with a type: keyword (exact values: lang, camera, \
            format), int, float, or time (dates like 2024-06-01, date-times, or seconds since \
            1970). Filters on indexed fields (vdb search --where / --filter) are answered from \
            the metadata index instead of reading every vector's metadata, and every insert, \
            upsert and delete keeps the index current in its own transaction. A value that does \
            not fit its field's type is refused.

            Examples:
              vdb field add docs lang:keyword year:int
              vdb field list docs --json
              vdb field drop docs year
            """,
        subcommands: [FieldAddCommand.self, FieldListCommand.self, FieldDropCommand.self])
}

/// `vdb field add NAME FIELD:TYPE...`
struct FieldAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Declare indexed fields and index the vectors already stored (one transaction).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Argument(help: ArgumentHelp("Fields as NAME:TYPE, TYPE one of keyword, int, float, time.", valueName: "FIELD:TYPE"))
    var fields: [String]

    func validate() throws {
        if fields.isEmpty { throw ValidationError("give at least one field as NAME:TYPE (e.g. lang:keyword)") }
        _ = try parseFields(fields)
    }

    func run() throws {
        let c = try global.open().collection(named: name)
        try c.addFields(try parseFields(fields))
        print("collection '\(name)' indexes \(try c.fields().map(\.description).joined(separator: ", ")) (\(try c.count()) vectors)")
    }
}

/// `vdb field list NAME [--json]`
struct FieldListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the indexed fields of a collection.",
        discussion: "--json prints {\"collection\", \"fields\": [{\"name\", \"type\"}]}.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let fields = try global.open().collection(named: name).fields()
        if json {
            try JSONLineWriter.print(FieldsJSON(collection: name, fields: fields))
        } else if fields.isEmpty {
            print("collection '\(name)' has no indexed fields")
        } else {
            for f in fields { print("\(f.name)  \(f.type)") }
        }
    }
}

/// `vdb field drop NAME FIELD`
struct FieldDropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Remove an indexed field (the metadata stays, and stays filterable by scan).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Argument(help: "Field name.")
    var field: String

    func run() throws {
        let c = try global.open().collection(named: name)
        guard try c.dropField(named: field) else { throw CLIError("collection '\(name)' has no indexed field '\(field)'") }
        print("dropped field '\(field)' of '\(name)'")
    }
}
