import Foundation
import Hummingbird
import VDBCLIP
import VDBCore
import VDBIngest

extension VDBServer {
    func addImageRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.get("collections/{name}/points/{id}/image", use: pointImage)
        api.get("collections/{name}/points/{id}/thumbnail", use: pointThumbnail)
    }

    /// `GET .../points/{id}/image`: the original photo ingest recorded for the point.
    @Sendable func pointImage(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let c = try await collection(context)
        let id = try pointID(context)
        let found = try await read { [images] in try images.original(in: c, id: id) }
        let image = try unwrap(found, id: id, in: c)
        return imageResponse(image.data, contentType: image.format == .png ? "image/png" : "image/jpeg")
    }

    /// `GET .../points/{id}/thumbnail?size=256`: a JPEG whose longer side is `size` (16...1024).
    @Sendable func pointThumbnail(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let c = try await collection(context)
        let id = try pointID(context)
        let size = try request.intParameter("size", default: 256)
        guard (16...1024).contains(size) else { throw ServerError.invalid("size must be 16...1024 (got \(size))") }
        let found = try await read { [images] in try images.thumbnail(in: c, id: id, maxSide: size) }
        let jpeg: [UInt8] = try unwrap(found, id: id, in: c)
        return imageResponse(Data(jpeg), contentType: "image/jpeg")
    }

    private func unwrap<T>(_ lookup: RecordedImageLookup<T>, id: UInt64, in c: Collection) throws -> T {
        switch lookup {
        case .found(let v): return v
        case .noSuchPoint: throw ServerError.notFound("no point \(id) in collection '\(c.name)'")
        case .notRecorded: throw ServerError.notFound("point \(id) of '\(c.name)' has no image recorded by ingest")
        case let .unavailable(path, reason): throw ServerError.notFound("the image of point \(id) (\(path)) is unavailable: \(reason)")
        }
    }

    private func imageResponse(_ data: Data, contentType: String) -> Response {
        Response(status: .ok,
                 headers: [.contentType: contentType, .cacheControl: "private, max-age=300",
                           .init("X-Content-Type-Options")!: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
