import Foundation
@testable import VDBCLIP

/// Locates Tests/VDBCLIPTests/Fixtures/images (from this file's path) and reads its index.json,
/// written by Scripts/make_image_fixtures.py.
enum ImageFixtures {
    struct Entry: Decodable {
        var file: String
        var bytes: Int
        var format: String?
        var error: String?
        var width: Int?
        var height: Int?
        var orientation: Int
        var reference: String?
        var reference_input: String?
        var reference_sum: Double?
        var reference_head: [Double]?
    }

    struct Index: Decodable {
        var reference: String
        var images: [Entry]
    }

    static let directory: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/images")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func index() throws -> Index {
        let data = try Data(contentsOf: directory.appendingPathComponent("index.json"))
        return try JSONDecoder().decode(Index.self, from: data)
    }

    /// Reference pixel values: stored as the 224x224 RGB8 image they were computed from; the
    /// float values are rebuilt with transformers' arithmetic (float64 rescale cast to float32,
    /// then float32 (v - mean) / std).
    static func referencePixels(_ entry: Entry) throws -> [Float] {
        guard let ref = entry.reference else { return [] }
        let img = try CLIPImageLoader.decode(file: path(ref), applyOrientation: false)
        precondition(img.width == 224 && img.height == 224)
        return expectedFloats(rgb: img.pixels, width: 224, height: 224)
    }

    static func expectedFloats(rgb: [UInt8], width: Int, height: Int,
                               mean: [Float] = CLIPPreprocessConfig.clipMean,
                               std: [Float] = CLIPPreprocessConfig.clipStd) -> [Float] {
        let plane = width * height
        var out = [Float](repeating: 0, count: 3 * plane)
        for c in 0..<3 {
            for i in 0..<plane {
                let v = Float(Double(rgb[3 * i + c]) * (1.0 / 255.0))
                out[c * plane + i] = (v - mean[c]) / std[c]
            }
        }
        return out
    }

    static func diff(_ a: [Float], _ b: [Float]) -> (max: Float, mean: Double) {
        precondition(a.count == b.count)
        var m: Float = 0
        var s = 0.0
        for i in 0..<a.count {
            let d = abs(a[i] - b[i])
            m = max(m, d)
            s += Double(d)
        }
        return (m, s / Double(a.count))
    }

    /// A baseline grayscale JPEG of any size whose every 8x8 block is flat mid-gray (128), built
    /// directly: one-code Huffman tables make each block two zero bits, so a 20000x20000 image is
    /// ~12.5 MB of zero bytes... for 20000x20000 that is 6.25M blocks = 1.56 MB. No encoder needed.
    static func flatGrayJPEG(width: Int, height: Int) -> [UInt8] {
        var b: [UInt8] = [0xFF, 0xD8]
        func seg(_ marker: UInt8, _ payload: [UInt8]) {
            b += [0xFF, marker, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload
        }
        seg(0xDB, [0x00] + [UInt8](repeating: 1, count: 64))                      // DQT: all ones
        seg(0xC0, [8, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF),
                   1, 1, 0x11, 0])                                              // SOF0, 1 component
        seg(0xC4, [0x00, 1] + [UInt8](repeating: 0, count: 15) + [0x00])        // DC table: '0' -> category 0
        seg(0xC4, [0x10, 1] + [UInt8](repeating: 0, count: 15) + [0x00])        // AC table: '0' -> EOB
        seg(0xDA, [1, 1, 0x00, 0, 63, 0])                                       // SOS
        let blocks = ((width + 7) / 8) * ((height + 7) / 8)
        let bits = blocks * 2
        b += [UInt8](repeating: 0, count: bits / 8)
        if bits % 8 != 0 { b.append(UInt8(0xFF >> (bits % 8)) & 0xFE) }       // pad with 1 bits (no 0xFF)
        b += [0xFF, 0xD9]
        return b
    }
}
