import ArgumentParser
import VDBCore

/// `vdb create NAME --dim D --metric l2|ip|cosine`
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a collection of vectors.",
        discussion: """
            Metrics: l2 (squared Euclidean distance, smaller is closer), ip (inner product, larger is
            closer), cosine (vectors are normalized on insert; reports cosine similarity).

            Examples:
              vdb create docs --dim 384 --metric cosine
              vdb --db ./my.vdb create points --dim 3 --metric l2
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name (letters, digits, '_', '-', '.').")
    var name: String

    @Option(name: .customLong("dim"), help: "Dimension of the vectors.")
    var dimension: Int

    @Option(help: "Distance metric: l2, ip or cosine.")
    var metric: String = "l2"

    func run() throws {
        try cli {
            let metric = try parseMetric(metric)
            let db = try global.open()
            try db.createCollection(name: name, dimension: dimension, metric: metric)
            print("created collection '\(name)' (dimension \(dimension), metric \(metric)) in \(db.path)")
        }
    }
}
