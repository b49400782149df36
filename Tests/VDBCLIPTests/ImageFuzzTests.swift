import Foundation
import Testing
@testable import VDBCLIP

@Suite("Corrupted inputs never crash")
struct ImageFuzzTests {
    /// Deterministic mutations (bit flips, byte runs, truncations, header damage) of valid fixtures:
    /// every call must either succeed with a well-formed tensor or throw an CLIPError.
    @Test("mutated JPEG and PNG bytes give CLIPError or a valid tensor")
    func mutations() throws {
        var state: UInt64 = 0x2545F4914F6CDD1D
        func next() -> Int { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return Int(state >> 1) }
        let files = ["rgb_420.jpg", "progressive.jpg", "cmyk.jpg", "exif_orient6.jpg", "gray.jpg",
                     "rgba.png", "palette_trns.png", "rgb16.png", "gray_alpha.png", "exif_o3.jpg"]
        var ok = 0, failed = 0
        for name in files {
            let original = [UInt8](try Data(contentsOf: ImageFixtures.directory.appendingPathComponent(name)))
            for round in 0..<60 {
                var b = original
                switch round % 5 {
                case 0:  // flip a few bits anywhere
                    for _ in 0..<(1 + next() % 8) { b[next() % b.count] ^= UInt8(1 << (next() % 8)) }
                case 1:  // damage the headers (first 600 bytes)
                    for _ in 0..<(1 + next() % 4) { b[next() % min(600, b.count)] = UInt8(truncatingIfNeeded: next()) }
                case 2:  // truncate
                    b = Array(b.prefix(next() % b.count))
                case 3:  // overwrite a run with 0xFF / 0x00
                    let start = next() % b.count
                    let fill: UInt8 = next() % 2 == 0 ? 0xFF : 0x00
                    for i in start..<min(b.count, start + 1 + next() % 64) { b[i] = fill }
                default:  // insert garbage
                    let at = next() % b.count
                    b.insert(contentsOf: (0..<(1 + next() % 32)).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
                }
                do {
                    let r = try CLIPImageLoader.preprocess(data: b, source: name)
                    #expect(r.pixels.data.count == 3 * 224 * 224 && r.pixels.data.allSatisfy { $0.isFinite })
                    ok += 1
                } catch let e as CLIPError {
                    #expect(e.source == name)
                    failed += 1
                }
                _ = try? ImageProbe.info(of: b)
                _ = try? CLIPImageLoader.decode(data: b)
            }
        }
        print("[image-fuzz] \(ok) decoded, \(failed) rejected with CLIPError")
        #expect(ok + failed == files.count * 60)
        #expect(failed > 0)
    }
}
