import Hummingbird
import VDBCore
import VDBIngest

extension VDBServer {
    func addCollectionRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.get("collections", use: listCollections)
        api.put("collections/{name}", use: writing(createCollection))
        api.get("collections/{name}", use: describeCollection)
        api.delete("collections/{name}", use: writing(dropCollection))
    }

    /// `GET /api/v1/collections`
    @Sendable func listCollections(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let list = try await read { [database] in
            try database.collections().map { info in
                CollectionDescription(info, photos: try database.collection(named: info.name).holdsRecordedImages)
            }
        }
        return try json(CollectionList(collections: list))
    }

    /// `PUT /api/v1/collections/{name}` `{"dim": 384, "metric": "cosine"}`
    @Sendable func createCollection(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let name = try collectionName(context)
        let spec = try await body(CreateCollectionBody.self, request)
        let metricName = spec.metric ?? "cosine"
        guard let metric = Metric(rawValue: metricName.lowercased()) else {
            throw ServerError.invalid("unknown metric '\(metricName)': use l2, ip or cosine")
        }
        let made = try await write { [database] in
            let c = try database.createCollection(name: name, dimension: spec.dim, metric: metric)
            return CollectionDescription(try c.info(), photos: false)
        }
        return try json(made, status: .created)
    }

    /// `GET /api/v1/collections/{name}`
    @Sendable func describeCollection(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let c = try await collection(context)
        return try json(try await read { CollectionDescription(try c.info(), photos: try c.holdsRecordedImages) })
    }

    /// `DELETE /api/v1/collections/{name}`
    @Sendable func dropCollection(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let name = try collectionName(context)
        try await write { [database] in try database.dropCollection(named: name) }
        return try json(["deleted": name])
    }
}
