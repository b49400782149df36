import Foundation
import Testing
@testable import VDBCLIP

@Suite("Image decoding, probing and bad inputs")
struct ImageDecodeTests {
    @Test("bad files fail with the right CLIPError naming the file")
    func badFiles() throws {
        let cases: [(String, (CLIPError) -> Bool)] = [
            ("truncated.jpg", { if case .truncatedImage(_, .jpeg, _) = $0 { return true }; return false }),
            ("truncated.png", { if case .truncatedImage(_, .png, _) = $0 { return true }; return false }),
            ("empty.jpg", { if case .emptyImage = $0 { return true }; return false }),
            ("text.jpg", { if case .unknownImageFormat = $0 { return true }; return false }),
            ("corrupt.jpg", { if case .corruptImage(_, .jpeg, _) = $0 { return true }; return false }),
        ]
        for (name, matches) in cases {
            let path = ImageFixtures.path(name)
            do {
                _ = try CLIPImageLoader.pixels(fromFile: path)
                Issue.record("\(name) decoded without error")
            } catch let error as CLIPError {
                #expect(matches(error), "\(name): unexpected \(error)")
                #expect(error.source == path)
                #expect(error.description.contains(path), "\(error.description)")
                print("[image-errors] \(error.description)")
            }
        }
        let truncated = try #require(throws: CLIPError.self) {
            try CLIPImageLoader.decode(file: ImageFixtures.path("truncated.jpg"))
        }
        #expect(truncated.description.contains("Premature end of JPEG file"), "\(truncated)")
        let text = try #require(throws: CLIPError.self) {
            try CLIPImageLoader.decode(file: ImageFixtures.path("text.jpg"))
        }
        #expect(text.description.contains("\"this is not an i"), "\(text)")
    }

    @Test("missing files and directories are unreadable, with the reason")
    func unreadable() throws {
        let missing = ImageFixtures.path("does-not-exist.jpg")
        #expect(throws: CLIPError.unreadableFile(path: missing, reason: "no such file")) {
            try CLIPImageLoader.pixels(fromFile: missing)
        }
        let dir = ImageFixtures.directory.path
        #expect(throws: CLIPError.unreadableFile(path: dir, reason: "is a directory")) {
            try CLIPImageLoader.pixels(fromFile: dir)
        }
        #expect(throws: CLIPError.unreadableFile(path: missing, reason: "no such file")) {
            try ImageProbe.info(ofFile: missing)
        }
        #expect(throws: CLIPError.unreadableFile(path: dir, reason: "is a directory")) {
            try ImageProbe.info(ofFile: dir)
        }
    }

    @Test("in-memory errors name the given source label")
    func memoryErrors() {
        #expect(throws: CLIPError.emptyImage(source: "upload#3")) {
            try CLIPImageLoader.pixels(fromData: [UInt8](), source: "upload#3")
        }
        let bytes: [UInt8] = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0]   // GIF
        #expect(throws: CLIPError.self) { try CLIPImageLoader.pixels(fromData: bytes) }
        #expect(ImageProbe.format(of: bytes) == nil)
    }

    @Test("probing reports format by content and dimensions without decoding")
    func probe() throws {
        for entry in try ImageFixtures.index().images {
            let path = ImageFixtures.path(entry.file)
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(ImageProbe.format(of: data)?.rawValue == entry.format, "\(entry.file)")
            guard let w = entry.width, let h = entry.height, entry.error == nil || entry.error == "truncated"
            else { continue }
            let info = try ImageProbe.info(ofFile: path)
            #expect(info.storedWidth == w && info.storedHeight == h, "\(entry.file)")
            #expect(info.orientation == entry.orientation, "\(entry.file)")
            let swapped = entry.orientation >= 5
            #expect(info.width == (swapped ? h : w) && info.height == (swapped ? w : h), "\(entry.file)")
        }
        let named = try ImageProbe.info(ofFile: ImageFixtures.path("png_named.jpg"))
        #expect(named.format == .png)
        let cmyk = try ImageProbe.info(ofFile: ImageFixtures.path("cmyk.jpg"))
        #expect(cmyk.isCMYK && cmyk.components == 4)
        let prog = try ImageProbe.info(ofFile: ImageFixtures.path("progressive.jpg"))
        #expect(prog.isProgressive && !cmyk.isProgressive)
        let rgba = try ImageProbe.info(ofFile: ImageFixtures.path("rgba.png"))
        #expect(rgba.hasAlpha && rgba.components == 4)
        #expect(try ImageProbe.info(ofFile: ImageFixtures.path("palette_trns.png")).hasAlpha)
        #expect(try ImageProbe.info(ofFile: ImageFixtures.path("rgb16.png")).bitDepth == 16)
        #expect(try ImageProbe.info(ofFile: ImageFixtures.path("interlaced.png")).isProgressive)
        #expect(try ImageProbe.info(ofFile: ImageFixtures.path("gray_1bit.png")).bitDepth == 1)
        #expect(try ImageProbe.info(ofFile: ImageFixtures.path("palette_4bit.png")).bitDepth == 4)
        #expect(throws: CLIPError.self) { try ImageProbe.info(ofFile: ImageFixtures.path("empty.jpg")) }
    }

    @Test("all 8 EXIF orientations are applied (pixel-exact against orientation 1)")
    func exifOrientation() throws {
        let base = try CLIPImageLoader.decode(file: ImageFixtures.path("exif_o1.jpg"))
        let (w, h) = (base.width, base.height)
        #expect(w == 96 && h == 64)
        func px(_ x: Int, _ y: Int) -> ArraySlice<UInt8> { base.pixels[(y * w + x) * 3..<(y * w + x) * 3 + 3] }
        for o in 2...8 {
            let img = try CLIPImageLoader.decode(file: ImageFixtures.path("exif_o\(o).jpg"))
            #expect(img.orientation == o)
            #expect((img.width, img.height) == (o >= 5 ? (h, w) : (w, h)), "orientation \(o)")
            var mismatches = 0
            for y in 0..<img.height {
                for x in 0..<img.width {
                    let src: (Int, Int)
                    switch o {
                    case 2: src = (w - 1 - x, y)
                    case 3: src = (w - 1 - x, h - 1 - y)
                    case 4: src = (x, h - 1 - y)
                    case 5: src = (y, x)
                    case 6: src = (y, h - 1 - x)
                    case 7: src = (w - 1 - y, h - 1 - x)
                    default: src = (w - 1 - y, x)
                    }
                    let i = (y * img.width + x) * 3
                    if img.pixels[i..<i + 3].elementsEqual(px(src.0, src.1)) == false { mismatches += 1 }
                }
            }
            #expect(mismatches == 0, "orientation \(o): \(mismatches) pixels differ")
            let raw = try CLIPImageLoader.decode(file: ImageFixtures.path("exif_o\(o).jpg"), applyOrientation: false)
            #expect(raw.pixels == base.pixels && raw.width == w)
        }
        let six = try CLIPImageLoader.preprocess(data: try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.path("exif_orient6.jpg"))))
        #expect(six.width == 240 && six.height == 320 && six.orientation == 6)
    }

    @Test("CMYK JPEG converts like Pillow; gray is replicated; alpha composites on white")
    func colourConversions() throws {
        let cmyk = try CLIPImageLoader.decode(file: ImageFixtures.path("cmyk.jpg"))
        #expect(cmyk.format == .jpeg && cmyk.width == 300 && cmyk.height == 200)
        let gray = try CLIPImageLoader.decode(file: ImageFixtures.path("gray.jpg"))
        let g = gray.pixels
        var replicated = true
        for i in stride(from: 0, to: g.count, by: 3) where g[i] != g[i + 1] || g[i] != g[i + 2] {
            replicated = false
        }
        #expect(replicated)
        // rgba.png: rows 0..<40 fully transparent -> white; rows 160..<200 opaque -> unchanged colour
        let rgba = try CLIPImageLoader.decode(file: ImageFixtures.path("rgba.png"))
        #expect(rgba.pixels[0..<(40 * 256 * 3)].allSatisfy { $0 == 255 })
        #expect(rgba.pixels[(160 * 256 * 3)...].contains { $0 < 200 })
        let pal = try CLIPImageLoader.decode(file: ImageFixtures.path("palette_trns.png"))
        #expect(pal.pixels.count == 200 * 150 * 3)
        // 16-bit: high byte of each sample, as Pillow
        let rgb16 = try CLIPImageLoader.decode(file: ImageFixtures.path("rgb16.png"))
        #expect(rgb16.width == 96 && rgb16.height == 72)
    }

    @Test("JPEG decoding picks the DCT scale from the margin")
    func dctScaleChoice() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.path("large_1920x1440.jpg")))
        #expect(try CLIPImageLoader.decode(data: data, minimumShortSide: 672).decodeScale == 2)
        #expect(try CLIPImageLoader.decode(data: data, minimumShortSide: 300).decodeScale == 4)
        #expect(try CLIPImageLoader.decode(data: data, minimumShortSide: 180).decodeScale == 8)
        #expect(try CLIPImageLoader.decode(data: data, minimumShortSide: 0).decodeScale == 1)
        let half = try CLIPImageLoader.decode(data: data, minimumShortSide: 672)
        #expect(half.width == 960 && half.height == 720 && half.fullWidth == 1920 && half.fullHeight == 1440)
        // PNGs are never scaled
        let png = try CLIPImageLoader.decode(file: ImageFixtures.path("rgb.png"), minimumShortSide: 10)
        #expect(png.decodeScale == 1)
    }

    @Test("concurrent decoding from several tasks gives identical results")
    func concurrent() async throws {
        let path = ImageFixtures.path("rgb_420.jpg")
        let expected = try CLIPImageLoader.pixels(fromFile: path)
        try await withThrowingTaskGroup(of: PixelTensor.self) { group in
            for _ in 0..<8 { group.addTask { try CLIPImageLoader.pixels(fromFile: path) } }
            for try await t in group { #expect(t == expected) }
        }
    }
}

@Suite("Unsupported JPEG variants")
struct ImageUnsupportedTests {
    @Test("a 12-bit JPEG is reported as unsupported, not corrupt")
    func twelveBit() throws {
        var jpeg = ImageFixtures.flatGrayJPEG(width: 16, height: 16)
        // SOF0 precision byte follows FF C0 + 2 length bytes
        let sof = try #require(jpeg.indices.first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg[sof + 4] = 12
        let error = try #require(throws: CLIPError.self) { try CLIPImageLoader.pixels(fromData: jpeg, source: "12bit.jpg") }
        guard case .unsupportedImage(_, .jpeg, let detail) = error else {
            Issue.record("expected .unsupported, got \(error)")
            return
        }
        #expect(detail.contains("12"), "\(detail)")
    }

    @Test("the synthetic flat JPEG decodes to mid-gray at small sizes too")
    func flatSmall() throws {
        let img = try CLIPImageLoader.decode(data: ImageFixtures.flatGrayJPEG(width: 40, height: 24))
        #expect(img.width == 40 && img.height == 24 && img.pixels.allSatisfy { $0 == 128 })
    }
}
