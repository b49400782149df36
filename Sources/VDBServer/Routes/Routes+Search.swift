import Dispatch
import Foundation
import Hummingbird
import MultipartKit
import VDBCLIP
import VDBCore
import VDBIngest

extension VDBServer {
    func addSearchRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.post("collections/{name}/search", use: search)
        api.post("collections/{name}/search/image", use: searchImage)
        api.post("collections/{name}/search/batch", use: searchBatch)
    }

    /// The most searches one `search/batch` request may hold.
    static let maxBatchSearches = 10_000

    /// `POST .../search/batch` `{"searches": [{"vector", "k", "offset", "filter", "params",
    /// "with_vector"}, ...]}`: several vector searches in one request (Qdrant's
    /// `points/search/batch`). Searches that share `k + offset`, `params` and `filter` run as one
    /// library batch on every core (exact search through sgemm). Answer: `{"results": [[hit, ...],
    /// ...], "took_ms"}`, one list per search in request order. Each group reads its own committed
    /// state, as separate searches would.
    @Sendable func searchBatch(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let name = try collectionName(context)
        let specs = try await bodyBytes(request).withUnsafeReadableBytes { try SearchBatchBody(json: $0) }.searches
        guard !specs.isEmpty else { throw ServerError.invalid("\"searches\" is empty") }
        guard specs.count <= Self.maxBatchSearches else {
            throw ServerError.invalid("a batch holds at most \(Self.maxBatchSearches) searches (got \(specs.count))")
        }
        struct Group: Hashable {
            var window: Int
            var ef: Int?, nprobe: Int?, rerank: Bool?
            var filter: Filter?
        }
        var order: [Group] = []
        var members: [Group: [Int]] = [:]
        var groupParameters: [Group: SearchParameters] = [:]
        var vectors: [[Float]] = []
        for (i, spec) in specs.enumerated() {
            guard spec.text == nil, spec.id == nil, let vector = spec.vector else {
                throw ServerError.invalid("searches[\(i)]: a batch holds vector searches only (send text and id searches to .../search)")
            }
            let group: Group
            do {
                group = Group(window: try searchWindow(k: spec.k ?? 10, offset: spec.offset ?? 0), ef: spec.params?.ef,
                              nprobe: spec.params?.nprobe, rerank: spec.params?.rerank, filter: spec.filter?.filter)
                if groupParameters[group] == nil {
                    var parameters = try searchParameters(ef: group.ef, nprobe: group.nprobe, rerank: group.rerank)
                    // Spread a batch over the read threads that are idle now (all of them on a quiet
                    // server; one when every read thread is busy, so the cores are not oversubscribed).
                    parameters.threads = min(ProcessInfo.processInfo.activeProcessorCount, readPool.idleThreads + 1)
                    groupParameters[group] = parameters
                }
            } catch let e as ServerError {
                throw ServerError(e.status, e.code, "searches[\(i)]: " + e.message)
            }
            if members[group] == nil { order.append(group) }
            members[group, default: []].append(i)
            vectors.append(vector)
        }
        let database = self.database
        let batches = order.compactMap { group in groupParameters[group].map { (group, $0, members[group] ?? []) } }
        let hits: [[Hit]] = try await read { [vectors] in
            let c = try database.collection(named: name)
            for (i, v) in vectors.enumerated() where v.count != c.dimension {
                throw ServerError(.badRequest, "bad_vector",
                                  "searches[\(i)]: the vector has \(v.count) dimensions; collection '\(name)' has \(c.dimension)")
            }
            var out = [[Hit]](repeating: [], count: specs.count)
            for (group, parameters, indices) in batches {
                let queries = indices.map { vectors[$0] }
                let found = try group.filter.map { try c.search(batch: queries, k: group.window, parameters: parameters, where: $0) }
                    ?? c.search(batch: queries, k: group.window, parameters: parameters)
                for (j, i) in indices.enumerated() {
                    out[i] = try Self.page(found[j], offset: specs[i].offset ?? 0, of: c, withVector: specs[i].with_vector ?? false)
                }
            }
            return out
        }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        return Self.jsonResponse(SearchBatchResult(results: hits, took_ms: (ms * 1000).rounded() / 1000).json)
    }

    /// `POST .../search` with exactly one of `vector`, `text` (CLIP text tower) and `id` (find
    /// similar: the stored point's neighbours, without the point), plus `k`, `offset`, `filter`,
    /// `params` (`ef`, `nprobe`, `rerank`) and `with_vector`.
    @Sendable func search(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let name = try collectionName(context)
        let spec = try await bodyBytes(request).withUnsafeReadableBytes { try SearchBody(json: $0) }
        let given = [spec.vector != nil, spec.text != nil, spec.id != nil].filter { $0 }.count
        guard given == 1 else {
            throw ServerError.invalid("give exactly one of \"vector\", \"text\" and \"id\" (got \(given))")
        }
        let offset = spec.offset ?? 0
        let window = try searchWindow(k: spec.k ?? 10, offset: offset)
        let parameters = try searchParameters(ef: spec.params?.ef, nprobe: spec.params?.nprobe, rerank: spec.params?.rerank)
        let filter = spec.filter
        let withVector = spec.with_vector ?? false
        let database = self.database
        // Each branch does its library work in one hop: open the collection, search, read vectors.
        let hits: [Hit]
        if let vector = spec.vector {
            hits = try await read {
                let c = try database.collection(named: name)
                let found = try filter.map { try c.search(vector, k: window, parameters: parameters, where: $0.filter) }
                    ?? c.search(vector, k: window, parameters: parameters)
                return try Self.page(found, offset: offset, of: c, withVector: withVector)
            }
        } else if let id = spec.id?.value {
            hits = try await read {
                let c = try database.collection(named: name)
                guard let found = try c.search(similarTo: id, k: window, parameters: parameters, filter: try filter?.predicate(for: c)) else {
                    throw ServerError.notFound("no point \(id) in collection '\(name)'")
                }
                return try Self.page(found, offset: offset, of: c, withVector: withVector)
            }
        } else {
            let text = spec.text ?? ""
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ServerError.invalid("\"text\" is empty") }
            _ = try await collection(context)  // 404 before waiting for a slot
            let model = try requireModel()
            hits = try await embed {
                let c = try database.collection(named: name)
                let found = try filter.map { try c.search(text: text, model: model, k: window, parameters: parameters, where: $0.filter) }
                    ?? c.search(text: text, model: model, k: window, parameters: parameters)
                return try Self.page(found, offset: offset, of: c, withVector: withVector)
            }
        }
        return try results(hits, since: start)
    }

    /// `POST .../search/image?k=10&offset=0&filter=format%3Dpng&ef=..&nprobe=..&rerank=..`: the body
    /// is the image (JPEG or PNG bytes, or multipart/form-data with the image as its file part).
    @Sendable func searchImage(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let c = try await collection(context)
        let model = try requireModel()
        let uri = request.uri
        let offset = try request.intParameter("offset", default: 0)
        let window = try searchWindow(k: try request.intParameter("k", default: 10), offset: offset)
        let parameters = try searchParameters(ef: uri.queryParameters["ef"].map { try int($0, "ef") },
                                              nprobe: uri.queryParameters["nprobe"].map { try int($0, "nprobe") },
                                              rerank: try request.boolParameter("rerank", default: false))
        let conditions = uri.queryParameters.getAll("filter").map { String($0) }
        let filter = conditions.isEmpty ? nil : try FilterSpec.parse(conditions)
        let withVector = try request.boolParameter("with_vector", default: false)
        // Wait for an embedding slot before reading the upload, so waiting uploads stay unread.
        let hits = try await embeddings.run {
            let image = try await self.uploadedImage(request)
            return try await self.read {
                try Self.page(try c.search(image: .encoded(image), model: model, k: window, parameters: parameters, where: filter),
                              offset: offset, of: c, withVector: withVector)
            }
        }
        return try results(hits, since: start)
    }

    // MARK: - helpers

    /// `k + offset`, checked: 422 outside 1...maxK.
    func searchWindow(k: Int, offset: Int) throws -> Int {
        guard k >= 1 else { throw ServerError.invalid("k must be at least 1 (got \(k))") }
        guard offset >= 0 else { throw ServerError.invalid("offset must be 0 or more (got \(offset))") }
        let (sum, overflow) = k.addingReportingOverflow(offset)
        guard !overflow, sum <= configuration.maxK else {
            throw ServerError.invalid("k + offset must be at most \(configuration.maxK) (got k=\(k), offset=\(offset))")
        }
        return sum
    }

    /// Per-query index parameters: 422 for out-of-range values.
    func searchParameters(ef: Int?, nprobe: Int?, rerank: Bool?) throws -> SearchParameters {
        var p = SearchParameters(threads: 1)
        if let ef {
            guard (1...100_000).contains(ef) else { throw ServerError.invalid("params.ef must be 1...100000 (got \(ef))") }
            p.ef = ef
        }
        if let nprobe {
            guard (1...1_000_000).contains(nprobe) else { throw ServerError.invalid("params.nprobe must be 1...1000000 (got \(nprobe))") }
            p.nprobe = nprobe
        }
        if let rerank { p.rerank = rerank }
        return p
    }

    private func int(_ raw: Substring, _ name: String) throws -> Int {
        guard let v = Int(raw) else { throw ServerError.badRequest("query parameter '\(name)' must be an integer (got '\(raw)')") }
        return v
    }

    /// The hits after `offset`, with score, distance and (when asked) the stored vectors.
    /// Runs inside a read hop.
    static func page(_ hits: [SearchHit], offset: Int, of c: Collection, withVector: Bool) throws -> [Hit] {
        let metric = c.metric
        return try hits.dropFirst(offset).map { hit in
            Hit(id: PointID(hit.id), score: metric.score(distance: hit.distance), distance: hit.distance,
                metadata: JSONMetadata(hit.metadata), vector: withVector ? try c.get(id: hit.id)?.vector : nil)
        }
    }

    /// The answer of both search routes.
    private func results(_ hits: [Hit], since start: UInt64) throws -> Response {
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        return Self.jsonResponse(SearchResult(results: hits, took_ms: (ms * 1000).rounded() / 1000).json)
    }

    /// A 200 answer with JSON bytes written by ``JSONWriter``.
    static func jsonResponse(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The uploaded image bytes: the raw body, or the file part of a multipart/form-data body.
    /// 415 when it is not a JPEG or PNG.
    func uploadedImage(_ request: Request) async throws -> Data {
        let buffer = try await bodyBytes(request)
        var data = Data(buffer.readableBytesView)
        let contentType = request.headers[.contentType] ?? ""
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            data = try imagePart(of: data, contentType: contentType)
        }
        guard !data.isEmpty else { throw ServerError.notAnImage("the upload is empty: send JPEG or PNG bytes as the body") }
        guard ImageProbe.format(of: data) != nil else {
            throw ServerError.notAnImage("the upload is not a JPEG or PNG image (\(data.count) bytes, content type '\(contentType)')")
        }
        return data
    }

    /// The image part of a multipart body: the part named `image` or `file`, else the first part
    /// with a file name, else the first part.
    private func imagePart(of body: Data, contentType: String) throws -> Data {
        guard let boundary = contentType.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { $0.lowercased().hasPrefix("boundary=") })?.dropFirst(9)
            .trimmingCharacters(in: CharacterSet(charactersIn: "\"")), !boundary.isEmpty else {
            throw ServerError.badRequest("multipart/form-data without a boundary")
        }
        var parts: [(disposition: String, body: [UInt8])] = []
        var disposition = ""
        var current: [UInt8] = []
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in if name.lowercased() == "content-disposition" { disposition = value } }
        parser.onBody = { buffer in current += buffer.readableBytesView }
        parser.onPartComplete = {
            parts.append((disposition, current))
            disposition = ""
            current = []
        }
        do { try parser.execute(Array(body)) } catch {
            throw ServerError.badRequest("malformed multipart/form-data body: \(error)")
        }
        let chosen = parts.first(where: { $0.disposition.contains("name=\"image\"") || $0.disposition.contains("name=\"file\"") })
            ?? parts.first(where: { $0.disposition.contains("filename=") }) ?? parts.first
        guard let chosen else { throw ServerError.badRequest("the multipart/form-data body has no part") }
        return Data(chosen.body)
    }
}
