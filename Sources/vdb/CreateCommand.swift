import ArgumentParser
import VDBCore

/// `vdb create NAME --dim D --metric l2|ip|cosine [--index hnsw|ivf_flat|ivf_sq8 [params]]`
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a collection of vectors.",
        discussion: """
            Metrics: l2 (squared Euclidean distance, smaller is closer), ip (inner product, larger is
            closer), cosine (vectors are normalized on insert; reports cosine similarity).

            With --index, the collection carries an approximate index with those parameters; it is
            built by 'vdb index build NAME' once vectors are imported (until then searches are exact).

            Examples:
              vdb create docs --dim 384 --metric cosine
              vdb create docs --dim 384 --metric cosine --index hnsw --M 16 --ef-construction 200
              vdb create docs --dim 384 --metric l2 --index ivf_sq8 --nlist 256
              vdb --db ./my.vdb create points --dim 3 --metric l2
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name (letters, digits, '_', '-', '.').")
    var name: String

    @Option(name: .customLong("dim"), help: "Dimension of the vectors.")
    var dimension: Int

    @Option(help: "Distance metric: l2, ip or cosine.")
    var metric: String = "l2"

    @Option(help: "Index type: flat (exact, default), hnsw, ivf_flat or ivf_sq8.")
    var index: String = "flat"

    @OptionGroup var indexParameters: IndexParameterOptions

    func run() throws {
        try cli {
            let metric = try parseMetric(metric)
            let kind = try parseIndexKind(index)
            let params = indexParameters.apply(to: IndexParameters())
            try indexParameters.validate(for: kind, params)
            let db = try global.open()
            try db.createCollection(name: name, dimension: dimension, metric: metric, index: kind, parameters: params)
            let indexNote = kind == .flat ? "" : ", index \(describeIndex(kind, params)) built by 'vdb index build \(name)'"
            print("created collection '\(name)' (dimension \(dimension), metric \(metric)\(indexNote)) in \(db.path)")
        }
    }
}
