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

/// Images whose headers declare huge sizes are refused from the headers, before the decoder
/// allocates for them (libjpeg sizes its coefficient buffers for progressive JPEGs by the
/// declared size, whatever the DCT scaling).
@Suite struct HostileImageHeaderTests {
    /// `jpeg` with the size in its SOF marker replaced (SOF0 baseline, SOF2 progressive).
    static func withDeclaredSize(_ jpeg: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        var b = jpeg
        var i = 2
        while i + 9 < b.count {
            guard b[i] == 0xFF else { i += 1; continue }
            let m = b[i + 1]
            if m == 0xC0 || m == 0xC1 || m == 0xC2 {
                b[i + 5] = UInt8(height >> 8); b[i + 6] = UInt8(height & 0xFF)
                b[i + 7] = UInt8(width >> 8); b[i + 8] = UInt8(width & 0xFF)
                return b
            }
            i += 2 + (Int(b[i + 2]) << 8 | Int(b[i + 3]))
        }
        throw CLIPError.invalidInput("no SOF marker")
    }

    static func fixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: ImageFixtures.directory.appendingPathComponent(name)))
    }

    @Test func progressiveJPEGDeclaringHugeSizesIsRefusedFromItsHeader() throws {
        let progressive = try Self.fixture("progressive.jpg")
        // 60000 x 60000: 10 GiB of coefficient buffers, whatever the DCT scaling.
        let bomb = try Self.withDeclaredSize(progressive, width: 60000, height: 60000)
        for attempt in [{ _ = try CLIPImageLoader.preprocess(data: bomb, source: "bomb.jpg") },
                        { _ = try CLIPImageLoader.decode(data: bomb, minimumShortSide: 224, source: "bomb.jpg") }] {
            #expect(performing: attempt, throws: { e in
                guard case CLIPError.imageTooLarge(let s, let detail) = e else { return false }
                return s == "bomb.jpg" && detail.contains("progressive JPEG of 60000x60000 needs 10.") && detail.contains(" GiB")
            })
        }
        // 12000 x 12000 is within the pixel limit, but its coefficient buffers are not within 256 MiB.
        let big = try Self.withDeclaredSize(progressive, width: 12000, height: 12000)
        #expect(performing: { _ = try CLIPImageLoader.preprocess(data: big, source: "big.jpg") }, throws: { e in
            guard case CLIPError.imageTooLarge(_, let detail) = e else { return false }
            return detail.contains("progressive JPEG of 12000x12000 needs") && detail.contains("coefficient buffers")
                && detail.contains("256.0 MiB per-image memory limit")
        })
        // A smaller cap refuses smaller images; the default one lets this one through to the decoder.
        let small = try Self.withDeclaredSize(progressive, width: 3000, height: 3000)
        let tight = CLIPImageLoader.Options(maxDecodeBytes: 8 << 20)
        #expect(throws: CLIPError.self) { _ = try CLIPImageLoader.preprocess(data: small, options: tight) }
        do {
            _ = try CLIPImageLoader.preprocess(data: small)  // libjpeg pads what the scans lack
        } catch let e as CLIPError {
            if case .imageTooLarge = e { Issue.record("refused within the cap: \(e)") }
        }
    }

    @Test func baselineJPEGAndPNGDeclaringHugeSizesStayBounded() throws {
        // A baseline JPEG streams at 1/8 scale: whatever it declares, memory stays small (here
        // the data ends long before 65000 rows, so it is reported truncated).
        let baseline = try Self.withDeclaredSize(try Self.fixture("rgb_420.jpg"), width: 65000, height: 65000)
        do {
            let r = try CLIPImageLoader.preprocess(data: baseline)
            #expect(r.peakBytes < 8 << 20)
        } catch let e as CLIPError {
            #expect(!e.description.isEmpty)
        }
        // PNG: IHDR width/height at bytes 16...23 (the CRC no longer matches, so libpng may say so
        // first; either way nothing is allocated for the declared size).
        var png = try Self.fixture("rgb.png")
        for (i, v) in [0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60].enumerated() { png[16 + i] = UInt8(v) }
        #expect(throws: CLIPError.self) { _ = try CLIPImageLoader.preprocess(data: png) }
        // The interlaced fixture (150x100) decodes fully (not streamed): a tight cap refuses it
        // from its header (a 16x16 output keeps the output itself within the cap).
        let interlaced = try Self.fixture("interlaced.png")
        var tiny = CLIPPreprocessConfig.default
        tiny.size = .shortestEdge(16)
        tiny.cropWidth = 16
        tiny.cropHeight = 16
        #expect(try CLIPImageLoader.preprocess(data: interlaced, config: tiny, options: .init(maxDecodeBytes: 100_000)).pixels.width == 16)
        #expect(performing: { _ = try CLIPImageLoader.preprocess(data: interlaced, config: tiny, options: .init(maxDecodeBytes: 20_000)) }, throws: { e in
            guard case CLIPError.imageTooLarge(_, let detail) = e else { return false }
            return detail.contains("interlaced PNG of")
        })
        #expect(try CLIPImageLoader.preprocess(data: interlaced).pixels.data.count == 3 * 224 * 224)
    }
}
