import Foundation
import Testing
@testable import VDBCLIP

/// Locates the committed fixtures (written by Scripts/make_clip_fixtures.py).
enum Fixtures {
    static let root: URL = {
        if let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) { return url }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }()

    static func model(_ name: String) -> URL { root.appendingPathComponent(name) }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("references").appendingPathComponent(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func floats(_ any: Any?) -> [Float] { ((any as? [Any]) ?? []).map { Float(($0 as! NSNumber).doubleValue) } }
    static func matrix(_ any: Any?) -> [[Float]] { ((any as? [Any]) ?? []).map { floats($0) } }
    static func ints(_ any: Any?) -> [Int32] { ((any as? [Any]) ?? []).map { Int32(($0 as! NSNumber).intValue) } }

    /// Splits the flat reference `pixel_values` into PixelTensors.
    static func pixels(_ ref: [String: Any]) -> [PixelTensor] {
        let shape = ints(ref["pixel_shape"]).map(Int.init)
        let flat = floats(ref["pixel_values"])
        let per = shape[1] * shape[2] * shape[3]
        return (0..<shape[0]).map { PixelTensor(width: shape[3], height: shape[2], data: Array(flat[($0 * per)..<(($0 + 1) * per)])) }
    }

    /// Largest absolute difference between two matrices of equal shape (infinity if shapes differ).
    static func maxAbsDiff(_ a: [[Float]], _ b: [[Float]]) -> Float {
        guard a.count == b.count, zip(a, b).allSatisfy({ $0.count == $1.count }) else { return .infinity }
        var m: Float = 0
        for (x, y) in zip(a, b) { for (u, v) in zip(x, y) { m = max(m, abs(u - v)) } }
        return m
    }
}
