import ArgumentParser
import VDBCore

/// `vdb create NAME --dim D --metric l2|ip|cosine [--index hnsw|ivf_flat|ivf_sq8 [params]] [--field NAME:TYPE ...]`
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a collection of vectors.",
        discussion: """
            Metrics: l2 (squared Euclidean distance, smaller is closer), ip (inner product, \
            larger is closer), cosine (vectors are normalized on insert; reports cosine similarity).

            With --index, the collection carries an approximate index with those parameters; \
            it is built by 'vdb index build NAME' once vectors are imported (until then \
            searches are exact).

            --field NAME:TYPE declares an indexed metadata field (keyword, int, float or time; \
            see 'vdb field --help'): filters on it are answered from the metadata index.

            Examples:
              vdb create docs --dim 384 --metric cosine
              vdb create docs --dim 384 --metric cosine --index hnsw --M 16
              vdb create docs --dim 384 --metric l2 --index ivf_sq8 --nlist 256
              vdb create docs --dim 384 --metric cosine --field lang:keyword --field year:int
              vdb --db ./my.vdb create points --dim 3 --metric l2
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name (letters, digits, '_', '-', '.').")
    var name: String

    @Option(name: .customLong("dim"), parsing: .unconditional, help: "Dimension of the vectors (1 to 65536).")
    var dimension: Int

    @Option(help: "Distance metric.")
    var metric: Metric = .l2

    @Option(help: "Index type (flat = exact search).")
    var index: IndexKind = .flat

    @OptionGroup var indexParameters: IndexParameterOptions

    @Option(name: .customLong("build-threads"), parsing: .unconditional,
            help: ArgumentHelp("Recorded with the index: threads its builds and batch inserts use (0 = all cores; 1 = deterministic HNSW).", valueName: "N"))
    var buildThreads: Int?

    @Option(name: .customLong("field"), help: ArgumentHelp("An indexed metadata field, NAME:TYPE with TYPE keyword, int, float or time (repeatable).", valueName: "NAME:TYPE"))
    var fields: [String] = []

    func validate() throws {
        try requireAtLeast(1, dimension, "--dim")
        try requireAtLeast(0, buildThreads, "--build-threads")
        _ = try parseFields(fields)
    }

    func run() throws {
        var params = indexParameters.apply(to: IndexParameters())
        if let buildThreads { params.buildThreads = buildThreads }
        let db = try global.open()
        let definitions = try parseFields(fields)
        try db.createCollection(name: name, dimension: dimension, metric: metric, index: index, parameters: params, fields: definitions)
        let indexNote = index == .flat ? "" : ", index \(describeIndex(index, params)) built by 'vdb index build \(name)'"
        let fieldNote = definitions.isEmpty ? "" : ", fields \(definitions.map(\.description).joined(separator: ", "))"
        print("created collection '\(name)' (dimension \(dimension), metric \(metric)\(indexNote)\(fieldNote)) in \(db.path)")
    }
}
