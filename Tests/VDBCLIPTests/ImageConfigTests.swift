import Foundation
import Testing
@testable import VDBCLIP

@Suite("CLIPPreprocessConfig parsing")
struct ImageConfigTests {
    @Test("openai/clip-vit-base-patch32 preprocessor_config.json (old style, int sizes)")
    func openaiStyle() throws {
        let json = """
        {"crop_size": 224, "do_center_crop": true, "do_normalize": true, "do_resize": true,
         "feature_extractor_type": "CLIPFeatureExtractor",
         "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
         "resample": 3, "size": 224}
        """
        let c = try CLIPPreprocessConfig.decode(json: Data(json.utf8))
        #expect(c == .default)
    }

    @Test("new style dict sizes, explicit flags and custom values")
    func dictStyle() throws {
        let json = """
        {"crop_size": {"height": 336, "width": 320}, "size": {"shortest_edge": 336}, "do_rescale": true,
         "rescale_factor": 0.00392156862745098, "do_convert_rgb": true, "image_mean": [0.5, 0.5, 0.5],
         "image_std": 0.5, "image_processor_type": "CLIPImageProcessor", "resample": 3}
        """
        let c = try CLIPPreprocessConfig.decode(json: Data(json.utf8))
        #expect(c.size == .shortestEdge(336) && c.cropHeight == 336 && c.cropWidth == 320)
        #expect(c.imageMean == [0.5, 0.5, 0.5] && c.imageStd == [0.5, 0.5, 0.5])
        let exact = try CLIPPreprocessConfig.decode(json: Data(#"{"size": {"height": 240, "width": 200}}"#.utf8))
        #expect(exact.size == .exact(height: 240, width: 200))
        // round trip through our encoder
        let again = try CLIPPreprocessConfig.decode(json: try JSONEncoder().encode(c))
        #expect(again == c)
    }

    @Test("empty object gives the CLIP defaults; a directory without the file too")
    func defaults() throws {
        #expect(try CLIPPreprocessConfig.decode(json: Data("{}".utf8)) == .default)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLIPPreprocessConfig.load(from: dir) == .default)
        try Data(#"{"size": 256, "crop_size": 256}"#.utf8).write(to: dir.appendingPathComponent("preprocessor_config.json"))
        let c = try CLIPPreprocessConfig.load(from: dir)
        #expect(c.size == .shortestEdge(256) && c.cropWidth == 256)
    }

    @Test("invalid values are rejected naming the field")
    func invalid() throws {
        for (json, field) in [(#"{"resample": 2}"#, "resample"), (#"{"image_mean": [0.5, 0.5]}"#, "image_mean"),
                              (#"{"size": {"longest_edge": 3}}"#, "size"), (#"{"size": "big"}"#, "size"),
                              (#"{"image_std": [1, 0, 1]}"#, "image_std"), (#"{"crop_size": 0}"#, "crop_size")] {
            let error = try #require(throws: CLIPError.self) {
                try CLIPPreprocessConfig.decode(json: Data(json.utf8))
            }
            #expect(error.description.contains(field), "\(json): \(error)")
            #expect(error.description.hasPrefix("preprocessor_config.json: field '"), "\(json): \(error)")
        }
    }
}

@Suite("CLIPPreprocessConfig convenience API")
struct ImageConfigCompatTests {
    @Test("defaults(size:), parse(_:file:), shortestEdge/mean/std accessors")
    func compat() throws {
        let d = CLIPPreprocessConfig.defaults(size: 32)
        #expect(d.shortestEdge == 32 && d.cropHeight == 32 && d.cropWidth == 32 && d.resample == 3)
        #expect(CLIPPreprocessConfig.defaults() == .default)
        var c = try CLIPPreprocessConfig.parse(Data(#"{"size": {"height": 300, "width": 200}}"#.utf8), file: "x.json")
        #expect(c.shortestEdge == 200)
        c.shortestEdge = 64
        #expect(c.size == .shortestEdge(64))
        #expect(c.mean == CLIPPreprocessConfig.clipMean && c.std == CLIPPreprocessConfig.clipStd)
        let error = try #require(throws: CLIPError.self) {
            try CLIPPreprocessConfig.parse(Data("[1]".utf8), file: "bad/preprocessor_config.json")
        }
        #expect(error.description.contains("bad/preprocessor_config.json"), "\(error)")
    }
}
