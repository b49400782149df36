import Hummingbird
import VDBCore

extension VDBServer {
    func addPointRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.put("collections/{name}/points", use: writing(upsertPoints))
        api.post("collections/{name}/points/delete", use: writing(deletePoints))
        api.post("collections/{name}/points/scroll", use: scrollPoints)
        api.get("collections/{name}/points/{id}", use: getPoint)
    }

    /// `PUT .../points` `{"points": [{"id", "vector", "metadata"}]}`: one transaction. Points
    /// with ids are inserted or replaced; a batch without any id is inserted with new ids.
    @Sendable func upsertPoints(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let name = try collectionName(context)
        let batch = try await bodyBytes(request).withUnsafeReadableBytes { try UpsertBody(json: $0) }
        let ids = batch.points.compactMap(\.id?.value)
        let vectors = batch.points.map(\.vector)
        let metadata: [Metadata?] = batch.points.map { $0.metadata?.metadata }
        // The lookup, the write and the count all run in one trip through the write queue: a trip
        // through the read pool would wait behind every queued search (writesSkipTheReadQueue).
        let (stored, count) = try await write { [database] in
            let c = try database.collection(named: name)  // an unknown collection is 404 before the checks below
            guard !vectors.isEmpty else { throw ServerError.invalid("'points' is empty") }
            guard ids.isEmpty || ids.count == vectors.count else {
                throw ServerError.invalid("give an id for every point or for none (\(ids.count) of \(vectors.count) have one)")
            }
            let stored = ids.isEmpty ? try c.insert(vectors, metadata: metadata) : try c.upsert(vectors, ids: ids, metadata: metadata)
            return (stored, try c.count())
        }
        return try json(UpsertResult(ids: stored.map(PointID.init), count: count))
    }

    /// `POST .../points/delete` `{"ids": [...]}`
    @Sendable func deletePoints(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let name = try collectionName(context)
        let ids = try await body(DeleteBody.self, request).ids.map(\.value)
        let (deleted, count) = try await write { [database] in
            let c = try database.collection(named: name)
            return (try c.delete(ids: ids), try c.count())
        }
        return try json(DeleteResult(deleted: deleted, count: count))
    }

    /// `GET .../points/{id}?with_vector=true`
    @Sendable func getPoint(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let c = try await collection(context)
        let id = try pointID(context)
        let withVector = try request.boolParameter("with_vector", default: false)
        guard let record = try await read({ try c.get(id: id) }) else {
            throw ServerError.notFound("no point \(id) in collection '\(c.name)'")
        }
        return try json(PointOut(record, withVector: withVector))
    }

    /// `POST .../points/scroll` `{"limit": 20, "offset": ID, "filter": ..., "with_vector": false}`
    @Sendable func scrollPoints(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let c = try await collection(context)
        let spec = try await body(ScrollBody.self, request)
        let limit = spec.limit ?? 20
        let withVector = spec.with_vector ?? false
        let filter = spec.filter
        let page = try await read {
            try c.scroll(from: spec.offset?.value, limit: limit, filter: try filter?.predicate(for: c), withVectors: withVector)
        }
        return try json(ScrollResult(points: page.records.map { PointOut($0, withVector: withVector) },
                                     next_page_offset: page.nextOffset.map(PointID.init)))
    }
}
