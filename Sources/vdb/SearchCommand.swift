import ArgumentParser
import Foundation
import VDBCore

/// `vdb search NAME -k K (--vector V | --queries FILE)`
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the k nearest vectors to a query vector or to every vector of a file.",
        discussion: """
            Distances: squared L2 for l2, inner product for ip, cosine similarity for cosine.
            --json prints one line per query:
              {"query": 0, "results": [{"id": 7, "distance": 0.53, "metadata": {...}}, ...]}

            Examples:
              vdb search docs -k 5 --vector "0.1,0.2,0.3"
              vdb search docs -k 10 --queries query.fvecs --threads 2 --json
              vdb search docs -k 10 --queries q.npy --nprobe 32      (IVF index)
              vdb search docs -k 10 --queries q.npy --ef 128         (HNSW index)
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Option(name: .short, help: "Number of neighbours per query.")
    var k: Int = 10

    @Option(help: "One query vector: comma-separated numbers.")
    var vector: String?

    @Option(help: "File of query vectors (.fvecs, .bvecs, .npy, .jsonl).")
    var queries: String?

    @Option(help: "Threads for a batch of queries (0 = all cores).")
    var threads: Int = 1

    @Option(help: "IVF indexes: inverted lists to visit.")
    var nprobe: Int?

    @Option(help: "HNSW index: candidate list size (at least k).")
    var ef: Int?

    @Flag(help: "IVF_SQ8 index: re-rank candidates with the exact vectors.")
    var rerank = false

    @Flag(help: "Print one JSON line per query.")
    var json = false

    @Flag(help: "Print the search time and queries per second on stderr.")
    var stats = false

    @Option(help: "Run the search this many times and report the median time with --stats (benchmarks).")
    var `repeat`: Int = 1

    func validate() throws {
        if (vector == nil) == (queries == nil) { throw ValidationError("give exactly one of --vector and --queries") }
        if k <= 0 { throw ValidationError("-k must be at least 1 (got \(k))") }
        if threads < 0 { throw ValidationError("--threads must be 0 (all cores) or more") }
        if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        try cli {
            let db = try global.open()
            let collection = try db.collection(named: name)
            var flat: [Float]
            if let vector {
                flat = try parseVector(vector, option: "--vector")
                guard flat.count == collection.dimension else {
                    throw CLIError("--vector has \(flat.count) components but collection '\(name)' has dimension \(collection.dimension)")
                }
            } else {
                let chunk = try VectorFiles.readAll(queries!)
                guard chunk.dimension == collection.dimension else {
                    throw CLIError("\(queries!) holds \(chunk.dimension)-d vectors but collection '\(name)' has dimension \(collection.dimension)")
                }
                flat = chunk.vectors
            }
            var params = SearchParameters(threads: threads)
            if let nprobe { params.nprobe = nprobe }
            if let ef { params.ef = ef }
            params.rerank = rerank
            var times: [Double] = []
            var results: [[SearchHit]] = []
            for _ in 0..<`repeat` {
                let t0 = DispatchTime.now().uptimeNanoseconds
                results = try collection.search(contiguous: flat, k: k, parameters: params)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            var out = StdoutBuffer()
            for (qi, hits) in results.enumerated() {
                if json {
                    out.line("{\"query\": \(qi), \"results\": [\(hits.map(jsonHit).joined(separator: ", "))]}")
                } else {
                    if results.count > 1 { out.line("query \(qi)") }
                    out.line("rank  id                    distance      metadata")
                    for (r, h) in hits.enumerated() {
                        let rank = String(r + 1).padding(toLength: 4, withPad: " ", startingAt: 0)
                        let id = String(h.id).padding(toLength: 20, withPad: " ", startingAt: 0)
                        let dist = String(format: "%-12.6g", Double(h.distance))
                        out.line("\(rank)  \(id)  \(dist)  \(h.metadata.isEmpty ? "" : jsonMetadata(h.metadata))")
                    }
                }
            }
            out.flush()
            if stats {
                let median = times.sorted()[times.count / 2]
                let nq = results.count
                printErr("searched \(nq) queries (k=\(k), \(threads) threads, index \(collection.activeIndexKind)) in \(String(format: "%.2f", median * 1000)) ms (median of \(times.count)): \(Int((Double(nq) / median).rounded())) QPS")
            }
        }
    }
}
