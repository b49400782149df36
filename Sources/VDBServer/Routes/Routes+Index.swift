import Hummingbird
import VDBCore

extension VDBServer {
    func addIndexAndIngestRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.post("collections/{name}/index", use: writing(buildIndex))
        api.delete("collections/{name}/index", use: writing(dropIndex))
        api.post("collections/{name}/ingest", use: writing(startIngest))
        api.get("collections/{name}/ingest", use: ingestStatus)
    }

    /// `POST .../index` `{"type": "hnsw", "params": {"m": 16, "ef_construction": 200}}`: builds or
    /// rebuilds (one write transaction; the request returns when the index is committed).
    @Sendable func buildIndex(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let c = try await collection(context)
        let spec = try await body(BuildIndexBody.self, request)
        guard let kind = IndexKind(rawValue: spec.type.lowercased()) else {
            throw ServerError.invalid("unknown index type '\(spec.type)': use flat, ivf_flat, ivf_sq8 or hnsw")
        }
        let parameters = spec.params?.parameters ?? IndexParameters()
        guard parameters.nlist >= 1, parameters.m >= 2, parameters.efConstruction >= 1, parameters.buildThreads >= 0 else {
            throw ServerError.invalid("index params out of range: nlist >= 1, m >= 2, ef_construction >= 1, build_threads >= 0")
        }
        try await write { try c.buildIndex(kind: kind, parameters: parameters) }
        return try json(try await read { CollectionDescription(try c.info(), photos: try c.holdsRecordedImages) })
    }

    /// `DELETE .../index`: back to exact (FLAT) search.
    @Sendable func dropIndex(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let c = try await collection(context)
        try await write { try c.dropIndex() }
        return try json(try await read { CollectionDescription(try c.info(), photos: try c.holdsRecordedImages) })
    }

    /// `POST .../ingest` `{"paths": ["/photos/2024"]}`: starts an ingest in the background (202).
    @Sendable func startIngest(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let name = try collectionName(context)
        let spec = try await body(IngestBody.self, request)
        let paths = try ingests.validate(spec.paths)
        let model = try requireModel()
        return try json(try ingests.start(collection: name, paths: paths, database: database, model: model), status: .accepted)
    }

    /// `GET .../ingest`: progress of the running ingest, or the report of the last one.
    @Sendable func ingestStatus(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try json(ingests.status(try collectionName(context)))
    }
}
