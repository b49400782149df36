import ArgumentParser
import Foundation
import VDBCLIP
import VDBCore
import VDBIngest

/// `vdb search NAME -k K (--vector V | --queries FILE | --text T | --image FILE)`
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the k nearest vectors to a vector, a file of vectors, a text or an image.",
        discussion: """
            Distances: squared L2 for l2, inner product for ip, cosine similarity for cosine.
            --json prints one line per query:
              {"query":0,"results":[{"distance":0.53,"id":7,"metadata":{...}},...]}
            and, for a filtered search or with --explain, "plan":{...} (the path taken, the \
            estimated and counted matches, the nodes the index visited).
            --threads: batch queries (--queries) and CLIP inference (--text, --image).

            Filters keep only vectors whose metadata satisfies them; k results come back \
            whenever k vectors match. --where takes key=value, key!=value, key in a,b,c, \
            key not in a,b, key<n, key<=n, key>n, key>=n (n a number or a date like \
            2024-06-01), split at the first operator (caption=a<b is key caption); repeat it \
            for conditions that must all hold. --filter takes the JSON form \
            ({"must":[...],"should":[...],"must_not":[...]} with {"key":K,"match":{"value":V}}, \
            {"key":K,"match":{"any":[...]}}, {"key":K,"range":{"gte":X,"lt":Y}}, \
            {"is_null":{"key":K}}); both may be given. Fields declared with 'vdb field add' \
            are answered from the metadata index, other keys by reading every vector's metadata.

            Examples:
              vdb search docs -k 5 --vector -0.1,0.2,0.3
              vdb search docs -k 10 --queries query.fvecs --threads 2 --json
              vdb search docs -k 10 --queries q.npy --nprobe 32    (IVF index)
              vdb search docs -k 10 --queries q.npy --ef 128       (HNSW index)
              vdb search docs --vector 0.1,0.2,0.3 --where lang=en --where 'year>=2020'
              vdb search docs --queries q.fvecs --filter '{"must":[{"key":"lang","match":{"any":["en","fr"]}}]}' --explain

            Photo collections made by `vdb ingest` are searched by words or by an example \
            image (CLIP embeddings; the model is --model, else $VDB_MODEL, else the one that \
            made the collection, else the bundled demo model); --captions searches the \
            caption texts:
              vdb search photos --text "a dog on the beach" -k 10
              vdb search photos --image query.jpg -k 10 --json
              vdb search photos --text "birthday" --captions
              vdb search photos --text beach --where "taken_at>=2024-06-01" --where "camera=Google Pixel 8" --sort taken_at
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Collection name.")
    var name: String

    @Option(name: .short, parsing: .unconditional, help: "Number of neighbours per query (>= 1).")
    var k: Int = 10

    @Option(parsing: .unconditional, help: ArgumentHelp("One query vector: comma-separated numbers, e.g. -0.4,0.1,2e-3.", valueName: "V"))
    var vector: String?

    @Option(help: "File of query vectors (.fvecs, .bvecs, .npy, .jsonl).")
    var queries: String?

    @Option(help: "Photo collections: find the images that match this text.")
    var text: String?

    @Option(help: ArgumentHelp("Photo collections: find the images that look like this image.", valueName: "FILE"))
    var image: String?

    @Flag(help: "Photo collections: search the caption embeddings (NAME.captions) instead of the images.")
    var captions = false

    @Option(help: ArgumentHelp("CLIP checkpoint directory for --text / --image.", valueName: "DIR"))
    var model: String?

    @OptionGroup var precision: PrecisionOption

    @Option(name: .customLong("where"), help: ArgumentHelp("Only vectors whose metadata satisfies key=value, key!=value, key in a,b, key<n, key<=n, key>n or key>=n (repeatable; all must hold).", valueName: "COND"))
    var conditions: [String] = []

    @Option(help: ArgumentHelp("Only vectors whose metadata satisfies this filter (JSON: must / should / must_not).", valueName: "JSON"))
    var filter: String?

    @Flag(help: "Print how each search ran (path, matches, nodes visited).")
    var explain = false

    @Option(help: ArgumentHelp("Order the k results by a metadata field instead of by distance (FIELD or FIELD:desc).", valueName: "FIELD"))
    var sort: String?

    @Option(name: .customLong("exact-below"), parsing: .unconditional,
            help: ArgumentHelp("Filtered searches: scan the matches exactly when at most N vectors match (default \(SearchParameters.defaultFilterExactThreshold)).", valueName: "N"))
    var exactBelow: Int?

    @OptionGroup var threads: ThreadsOption

    @Option(parsing: .unconditional, help: "IVF indexes: inverted lists to visit (>= 1; more than the index has visits all, with a note on stderr).")
    var nprobe: Int?

    @Option(parsing: .unconditional, help: "HNSW index: candidate list size (>= 1; at least k).")
    var ef: Int?

    @Flag(help: "Re-rank: take k x 4 candidates from the index (any kind) and re-score them with the exact stored vectors; distances are then exact.")
    var rerank = false

    @Flag(help: "Print one JSON line per query.")
    var json = false

    @Flag(help: "Print the search time and queries per second on stderr.")
    var stats = false

    @Option(parsing: .unconditional, help: "Run the search this many times and report the median time with --stats (benchmarks; >= 1).")
    var `repeat`: Int = 1

    func validate() throws {
        let given = [vector, queries, text, image].compactMap { $0 }.count
        if given != 1 { throw ValidationError("give exactly one of --vector, --queries, --text and --image") }
        if captions && text == nil && image == nil { throw ValidationError("--captions goes with --text or --image") }
        try requireAtLeast(1, k, "-k")
        try requireAtLeast(1, nprobe, "--nprobe")
        try requireAtLeast(1, ef, "--ef")
        try requireAtLeast(1, `repeat`, "--repeat")
        try requireAtLeast(0, exactBelow, "--exact-below")
        if let vector { _ = try parseVector(vector, option: "--vector") }
        _ = try parsedFilter()
        if let sort { do { _ = try HitOrder(parsing: sort) } catch let e as VDBError { throw ValidationError(e.description) } }
    }

    /// The filter of --where and --filter together (nil when neither is given).
    func parsedFilter() throws -> Filter? { try parseFilter(conditions: conditions, json: filter) }

    /// The per-query parameters given on the command line.
    func parameters(threads: Int) -> SearchParameters {
        var params = SearchParameters(threads: threads)
        if let nprobe { params.nprobe = nprobe }
        if let ef { params.ef = ef }
        params.rerank = rerank
        if let exactBelow { params.filterExactThreshold = exactBelow }
        return params
    }

    func run() throws {
        let db = try global.open()
        let filter = try parsedFilter()
        if text != nil || image != nil {
            try searchPhotos(db, filter: filter)
            return
        }
        let collection = try db.collection(named: name)
        var flat: [Float]
        if let vector {
            flat = try parseVector(vector, option: "--vector")
            guard flat.count == collection.dimension else {
                throw CLIError("--vector has \(flat.count) components but collection '\(name)' has dimension \(collection.dimension)")
            }
        } else {
            let file = queries ?? ""
            let chunk = try VectorFiles.readAll(file)
            guard chunk.dimension == collection.dimension else {
                throw CLIError("\(file) holds \(chunk.dimension)-d vectors but collection '\(name)' has dimension \(collection.dimension)")
            }
            flat = chunk.vectors
        }
        let params = parameters(threads: threads.count)
        try noteClampedParameters(collection)
        var times: [Double] = []
        var found: [[SearchHit]] = []
        var plans: [SearchPlan]?
        for _ in 0..<`repeat` {
            let t0 = DispatchTime.now().uptimeNanoseconds
            if filter != nil || explain {
                let explained = try collection.searchExplained(contiguous: flat, k: k, parameters: params, where: filter)
                found = explained.map(\.hits)
                plans = explained.map(\.plan)
            } else {
                found = try collection.search(contiguous: flat, k: k, parameters: params)
            }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let results = try ordered(found)
        if json {
            var out = JSONLineWriter()
            for (qi, hits) in results.enumerated() { try out.write(SearchResultsJSON(query: qi, hits: hits, plan: plans?[qi])) }
            out.flush()
        } else {
            var out = StdoutBuffer()
            let style = JSONStyle()
            for (qi, hits) in results.enumerated() {
                if results.count > 1 { out.line("query \(qi)") }
                if explain, let plan = plans?[qi] { out.line("plan: \(plan.summary)") }
                out.line("rank  id                    distance      metadata")
                for (r, h) in hits.enumerated() {
                    let rank = String(r + 1).padding(toLength: 4, withPad: " ", startingAt: 0)
                    let id = String(h.id).padding(toLength: 20, withPad: " ", startingAt: 0)
                    let dist = String(format: "%-12.6g", Double(h.distance))
                    out.line("\(rank)  \(id)  \(dist)  \(h.metadata.isEmpty ? "" : try style.string(JSONMetadataValue.object(h.metadata)))")
                }
            }
            out.flush()
        }
        if stats {
            let median = times.sorted()[times.count / 2]
            let nq = results.count
            printErr("searched \(nq) queries (k=\(k), \(params.threads) threads, index \(collection.activeIndexKind)) in \(String(format: "%.2f", median * 1000)) ms (median of \(times.count)): \(Int((Double(nq) / median).rounded())) QPS")
        }
    }

    /// `--nprobe` above the index's number of lists is clamped (every list is visited); says so
    /// on stderr, so a typo such as `--nprobe 1000000` does not pass silently.
    func noteClampedParameters(_ collection: Collection) throws {
        guard let nprobe, [.ivfFlat, .ivfSQ8].contains(collection.activeIndexKind) else { return }
        let nlist = try collection.info().parameters.nlist
        if nprobe > nlist {
            printErr("note: --nprobe \(nprobe) is more than the \(nlist) lists of the index: every list is visited (as with --nprobe \(nlist))")
        }
    }

    /// The hits of each query in `--sort` order (by distance without it).
    private func ordered(_ results: [[SearchHit]]) throws -> [[SearchHit]] {
        guard let sort else { return results }
        let order = try HitOrder(parsing: sort)
        return results.map(order.sorted)
    }

    /// `--text` / `--image`: CLIP query against a collection made by `vdb ingest`.
    private func searchPhotos(_ db: Database, filter: Filter?) throws {
        let images = try db.collection(named: name)
        let target = captions ? try captionCollection(db) : images
        try noteClampedParameters(target)
        let clip = try ModelLocation.resolve(explicit: model, collection: images).load(threads: threads.count, precision: precision.precision)
        let params = parameters(threads: 1)
        let result: SearchResult
        if let text {
            result = try target.searchExplained(text: text, model: clip, k: k, parameters: params, where: filter)
        } else {
            result = try target.searchExplained(image: image ?? "", model: clip, k: k, parameters: params, where: filter)
        }
        let hits = try ordered([result.hits])[0]
        let plan = filter != nil || explain ? result.plan : nil
        if json {
            try JSONLineWriter.print(SearchResultsJSON(query: 0, hits: hits, plan: plan))
            return
        }
        var out = StdoutBuffer()
        if explain, let plan { out.line("plan: \(plan.summary)") }
        out.line("rank  score    path" + (hits.contains { $0.metadata["caption"] != nil } ? "  (caption)" : ""))
        for (r, h) in hits.enumerated() {
            let rank = String(r + 1).padding(toLength: 4, withPad: " ", startingAt: 0)
            let score = String(format: "%-7.4f", Double(h.distance))
            let path = h.metadata["path"]?.stringValue ?? "id \(h.id)"
            let caption = h.metadata["caption"]?.stringValue.map { "  \"\($0)\"" } ?? ""
            out.line("\(rank)  \(score)  \(path)\(caption)")
        }
        out.flush()
    }

    private func captionCollection(_ db: Database) throws -> Collection {
        do { return try db.collection(named: Ingestor.captionCollectionName(for: name)) } catch VDBError.collectionNotFound {
            throw IngestError.noCaptions(name)
        }
    }
}
