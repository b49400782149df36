import Foundation
import Testing
@testable import VDBCLIP

/// Image files -> vdb preprocessing -> vision tower, against transformers on the same files
/// (references made with EXIF orientation applied and RGBA composited on white, vdb's semantics).
@Suite("CLIP end-to-end on image files")
struct EndToEndImageTests {
    @Test func embeddingsFromFilesMatchReference() throws {
        let model = ParityTests.tiny
        let ref = try Fixtures.json("images.json")
        let images = try #require(ref["images"] as? [[String: Any]])
        #expect(images.count >= 7)
        var tensors: [PixelTensor] = []
        for entry in images {
            let file = try #require(entry["file"] as? String)
            let path = Fixtures.root.appendingPathComponent("clip-images").appendingPathComponent(file).path
            let pixels = try CLIPImageLoader.pixels(fromFile: path, config: model.preprocess)
            let want = Fixtures.floats(entry["pixel_values"])
            #expect(pixels.width == 32 && pixels.height == 32 && pixels.data.count == want.count, "\(file)")
            // one 8-bit level is 1/255/std ~ 0.015 in normalized units
            #expect(Fixtures.maxAbsDiff([pixels.data], [want]) <= 0.035, "\(file) pixels")
            tensors.append(pixels)
        }
        let got = try model.embed(pixels: tensors)
        for (entry, e) in zip(images, got) {
            let want = Fixtures.floats(entry["embedding"])
            let cos = CLIPModel.cosine(e, want)
            #expect(cos >= 0.9999, "\(entry["file"] ?? "") cosine \(cos)")
        }
    }

    @Test func embedImagesAcceptsFilesBytesAndPixels() throws {
        let model = ParityTests.tiny
        let ref = try Fixtures.json("images.json")
        let images = try #require(ref["images"] as? [[String: Any]])
        let first = try #require(images.first)
        let file = try #require(first["file"] as? String)
        let path = Fixtures.root.appendingPathComponent("clip-images").appendingPathComponent(file).path
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let px = try model.pixels(for: .file(path))
        let e = try model.embed(images: [.file(path), .encoded(data), .pixels(px)])
        #expect(e.count == 3)
        // The same pixels at batch positions 0 and 1 are not bit-identical: OpenBLAS's sgemm
        // rounds a row differently depending on where it falls in the M dimension (rows that do
        // not fill a register block go through edge kernels that accumulate in another order;
        // measured here: 0 for batches of 4, up to 1e-6 for other positions, with one BLAS thread
        // too and with vdb's scalar kernels, so it is not a race and not vdb's C code). A GEMM per
        // item would make positions agree but give up the batching, so the check is a tolerance
        // far below anything a ranking notices, plus exact determinism for a repeated batch.
        #expect(Fixtures.maxAbsDiff([e[0]], [e[1]]) <= 1e-5)
        #expect(try model.embed(images: [.file(path), .encoded(data), .pixels(px)]) == e)
        #expect(Fixtures.maxAbsDiff([e[0]], [e[2]]) <= 1e-6)
        #expect(CLIPModel.cosine(e[0], Fixtures.floats(first["embedding"])) >= 0.9999)
        let probs = try model.classify(image: .file(path), labels: ["cat", "dog"])
        #expect(abs(probs.reduce(0, +) - 1) < 1e-5)
        #expect(throws: (any Error).self) { try model.embed(images: [.file(path), .file(path + ".missing")]) }
        #expect(throws: (any Error).self) { try model.embed(images: [.encoded(Data("not an image".utf8))]) }
    }
}
