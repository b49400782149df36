import CImageCodecs
import Foundation
import Testing
@testable import VDBCLIP

@Suite("Image preprocessing vs transformers CLIPImageProcessor")
struct ImagePreprocessTests {
    @Test("every valid fixture matches the reference pixel values")
    func referenceParity() throws {
        let index = try ImageFixtures.index()
        var overallMax: Float = 0
        var meanSum = 0.0
        var n = 0
        for entry in index.images where entry.reference != nil {
            let expected = try ImageFixtures.referencePixels(entry)
            let result = try CLIPImageLoader.preprocess(data: try Data(contentsOf: ImageFixtures.directory.appendingPathComponent(entry.file)),
                                                        source: entry.file)
            #expect(result.pixels.width == 224 && result.pixels.height == 224, "\(entry.file)")
            let d = ImageFixtures.diff(result.pixels.data, expected)
            print("[image-parity] \(entry.file): max \(d.max) mean \(d.mean) decodeScale \(result.decodeScale)")
            if result.decodeScale == 1 {
                #expect(d.max <= 0.02, "\(entry.file): max abs diff \(d.max) vs reference")
                overallMax = max(overallMax, d.max)
                meanSum += d.mean
                n += 1
            } else {
                // DCT-scaled decode (margin 3x): measured tolerance, see Docs/image-preprocessing.md
                #expect(d.max <= 0.12 && d.mean <= 0.006, "\(entry.file): DCT-scaled max \(d.max) mean \(d.mean)")
                let exact = try CLIPImageLoader.preprocess(
                    data: try Data(contentsOf: ImageFixtures.directory.appendingPathComponent(entry.file)),
                    options: .init(dctScaling: false))
                let e = ImageFixtures.diff(exact.pixels.data, expected)
                print("[image-parity] \(entry.file) full-size decode: max \(e.max) mean \(e.mean)")
                #expect(exact.decodeScale == 1)
                #expect(e.max <= 0.02, "\(entry.file): full decode max abs diff \(e.max)")
            }
        }
        print("[image-parity] exact path over \(n) images: max \(overallMax), mean of means \(meanSum / Double(max(n, 1)))")
        #expect(n >= 25)
    }

    @Test("the reference floats follow transformers' rescale/normalize arithmetic")
    func referenceFloatsFormula() throws {
        for entry in try ImageFixtures.index().images where entry.reference != nil {
            let values = try ImageFixtures.referencePixels(entry)
            let sum = values.reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - (entry.reference_sum ?? .nan)) < 1e-2, "\(entry.file): sum \(sum)")
            let head = (0..<3).flatMap { c in (0..<4).map { x in values[c * 224 * 224 + x] } }
            for (a, b) in zip(head, entry.reference_head ?? []) {
                #expect(abs(Double(a) - b) < 1e-6, "\(entry.file)")
            }
        }
    }

    @Test("decoded pixels and encoded bytes give the same tensor")
    func rgb8PathMatches() throws {
        let file = ImageFixtures.path("rgb.png")
        let decoded = try CLIPImageLoader.decode(file: file)
        #expect(decoded.format == .png && decoded.width == 200 && decoded.height == 150)
        let raw = try DecodedImage(width: decoded.width, height: decoded.height, rgb8: decoded.pixels)
        let a = try CLIPImageLoader.pixels(fromRGB8: raw)
        let b = try CLIPImageLoader.pixels(fromFile: file)
        #expect(a == b)
        #expect(throws: CLIPError.self) { try DecodedImage(width: 3, height: 3, rgb8: [1, 2, 3]) }
    }

    @Test("streaming decode+resize equals decode-then-resize on every fixture; memory stays below a full decode")
    func streamingMatchesBuffered() throws {
        for entry in try ImageFixtures.index().images where entry.reference != nil {
            let data = try Data(contentsOf: ImageFixtures.directory.appendingPathComponent(entry.file))
            let streamed = try CLIPImageLoader.preprocess(data: data)
            let buffered = try CLIPImageLoader.buffered(data: data, config: .default, options: .default, source: entry.file)
            #expect(streamed.pixels == buffered.pixels, "\(entry.file)")
            #expect(streamed.decodeScale == buffered.decodeScale && streamed.width == buffered.width
                    && streamed.height == buffered.height, "\(entry.file)")
        }
        let photo = try CLIPImageLoader.preprocess(data: try Data(contentsOf: ImageFixtures.directory.appendingPathComponent("photo_1024x768.jpg")))
        print("[image-memory] 1024x768 JPEG: peak \(photo.peakBytes) bytes (full decode alone: \(1024 * 768 * 3))")
        #expect(photo.decodeScale == 1 && photo.peakBytes < 1024 * 768 * 3)
    }

    @Test("resize geometry follows transformers (truncated long side, floored crop offset)")
    func geometry() {
        let c = CLIPPreprocessConfig.default
        #expect(CLIPImageLoader.resizedSize(width: 17, height: 900, config: c) == (224, 11858))
        #expect(CLIPImageLoader.resizedSize(width: 900, height: 17, config: c) == (11858, 224))
        #expect(CLIPImageLoader.resizedSize(width: 1024, height: 768, config: c) == (298, 224))
        #expect(CLIPImageLoader.resizedSize(width: 1, height: 1, config: c) == (224, 224))
        var e = c
        e.size = .exact(height: 100, width: 50)
        #expect(CLIPImageLoader.resizedSize(width: 1024, height: 768, config: e) == (50, 100))
    }

    @Test("an elongated image never materializes the full resized intermediate")
    func elongatedBoundedMemory() throws {
        let r = try CLIPImageLoader.preprocess(data: try Data(contentsOf: ImageFixtures.directory.appendingPathComponent("tall_17x900.png")))
        // the full resize would be 224 x 11858 x 3 = 7.97 MB
        print("[image-memory] 17x900 PNG: peak \(r.peakBytes) bytes")
        #expect(r.peakBytes < 1_000_000, "peak \(r.peakBytes) bytes")
        #expect(r.width == 17 && r.height == 900)
    }

    @Test("a 20000x20000 JPEG is decoded at 1/8 scale with bounded memory")
    func hugeJPEG() throws {
        let jpeg = ImageFixtures.flatGrayJPEG(width: 20000, height: 20000)
        let info = try ImageProbe.info(of: jpeg)
        #expect(info.width == 20000 && info.height == 20000 && info.format == .jpeg)
        let r = try CLIPImageLoader.preprocess(data: jpeg)
        #expect(r.decodeScale == 8)
        #expect(r.width == 20000 && r.height == 20000)
        // full decode would need 1.2 GB; 1/8 scale is 2500 x 2500 x 3 = 18.75 MB, and streaming
        // rows into the resampler keeps only 2500 rows x 224 columns x 3 (1.7 MB)
        print("[image-memory] 20000x20000 JPEG: decodeScale \(r.decodeScale), peak \(r.peakBytes) bytes")
        #expect(r.peakBytes < 4_000_000, "peak \(r.peakBytes) bytes")
        let plane = 224 * 224
        for c in 0..<3 {
            let expected = (Float(128.0 / 255.0) - CLIPPreprocessConfig.clipMean[c]) / CLIPPreprocessConfig.clipStd[c]
            let channel = r.pixels.data[c * plane..<(c + 1) * plane]
            #expect(channel.allSatisfy { abs($0 - expected) < 1e-6 }, "channel \(c)")
        }
    }

    @Test("custom configuration: no crop, exact size, no normalize")
    func customConfig() throws {
        var c = CLIPPreprocessConfig.default
        c.doCenterCrop = false
        c.doNormalize = false
        let t = try CLIPImageLoader.pixels(fromFile: ImageFixtures.path("rgb.png"), config: c)
        #expect(t.width == 298 && t.height == 224)
        #expect(t.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        c.doCenterCrop = true
        c.cropHeight = 256
        c.cropWidth = 256  // larger than the resized height: zero padding (transformers pads with 0)
        let p = try CLIPImageLoader.pixels(fromFile: ImageFixtures.path("rgb.png"), config: c)
        #expect(p.width == 256 && p.height == 256)
        #expect(p.data[0] == 0 && p.data[255] == 0)   // first row lies in the padding
    }
}

@Suite("Resampler SIMD and scalar paths")
struct ImageResamplerTests {
    @Test("AVX2 and scalar resamplers are bit-identical on random images, up- and downscaling")
    func simdMatchesScalar() {
        var seed: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed }
        let shapes: [(Int, Int, Int, Int)] = [(97, 61, 224, 224), (640, 480, 298, 224), (17, 900, 224, 11858),
                                              (900, 17, 11858, 224), (1, 1, 224, 224), (300, 224, 300, 224),
                                              (224, 500, 224, 500), (1000, 3, 50, 224)]
        for (sw, sh, dw, dh) in shapes {
            let src = (0..<(sw * sh * 3)).map { _ in UInt8(truncatingIfNeeded: next()) }
            let (cw, ch) = (min(dw, 224), min(dh, 224))
            let (cx, cy) = ((dw - cw) / 2, (dh - ch) / 2)
            var a = [UInt8](repeating: 1, count: cw * ch * 3)
            var b = [UInt8](repeating: 2, count: cw * ch * 3)
            let ra = vdb_resize_crop_rgb8_ex(src, Int32(sw), Int32(sh), sw * 3, Int32(dw), Int32(dh), Int32(cx),
                                             Int32(cy), Int32(cw), Int32(ch), &a, 1)
            let rb = vdb_resize_crop_rgb8_ex(src, Int32(sw), Int32(sh), sw * 3, Int32(dw), Int32(dh), Int32(cx),
                                             Int32(cy), Int32(cw), Int32(ch), &b, 0)
            #expect(ra == 0 && rb == 0)
            #expect(a == b, "\(sw)x\(sh) -> \(dw)x\(dh)")
        }
    }
}
