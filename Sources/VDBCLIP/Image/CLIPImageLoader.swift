import CImageCodecs
import Foundation

/// Loads JPEG/PNG images and turns them into CLIP `PixelTensor`s exactly as Hugging Face's
/// `CLIPImageProcessor` does (Pillow bicubic resize of the shortest side, centre crop, rescale,
/// normalize, channels first), plus EXIF orientation, which the reference ignores.
///
/// All functions are thread-safe and may run concurrently (no shared state).
public enum CLIPImageLoader {
    /// Decoding choices that are not part of the Hugging Face configuration.
    public struct Options: Sendable, Equatable {
        /// Decode large JPEGs with DCT scaling (1/2, 1/4, 1/8) when the scaled image keeps its
        /// shorter side at least `dctScalingMargin` times the resize target. Default margin: 3,
        /// see Docs/image-preprocessing.md for the measurements behind it.
        public var dctScaling: Bool
        public var dctScalingMargin: Double
        /// Apply the EXIF orientation (default true; the Hugging Face reference does not).
        public var applyOrientation: Bool
        /// The most memory one decode may hold (decoder buffers, pixels, rotation copy), checked
        /// from the headers before anything is allocated; a bigger image fails with
        /// `CLIPError.imageTooLarge`. Default 256 MiB (`defaultMaxDecodeBytes`).
        public var maxDecodeBytes: Int

        /// The default per-decode memory cap: 256 MiB.
        public static let defaultMaxDecodeBytes = Int(VDB_DEFAULT_MAX_DECODE_BYTES)

        public init(dctScaling: Bool = true, dctScalingMargin: Double = 3.0, applyOrientation: Bool = true,
                    maxDecodeBytes: Int = Options.defaultMaxDecodeBytes) {
            self.dctScaling = dctScaling
            self.dctScalingMargin = dctScalingMargin
            self.applyOrientation = applyOrientation
            self.maxDecodeBytes = maxDecodeBytes
        }

        public static let `default` = Options()
    }

    /// Result of `preprocess`: the tensor and facts about the source image.
    public struct Result: Sendable {
        public var pixels: PixelTensor
        public var format: ImageFormat?
        /// Full-resolution dimensions as displayed (after EXIF orientation).
        public var width: Int
        public var height: Int
        public var orientation: Int
        /// JPEG DCT scaling denominator used (1 = full-size decode).
        public var decodeScale: Int
        /// Peak bytes of pixel buffers held while decoding and resizing (decoder rows or image,
        /// resampler intermediate, and the output crop and tensor).
        public var peakBytes: Int
    }

    // MARK: decoding

    /// Decodes encoded JPEG/PNG bytes to RGB8.
    /// - Parameters:
    ///   - minimumShortSide: allow JPEG DCT scaling as long as the shorter side stays >= this (0: full size).
    ///   - source: a label used in error messages (e.g. the file path).
    /// - Throws: `CLIPError`.
    ///   - maxDecodeBytes: the per-decode memory cap (see ``Options/maxDecodeBytes``).
    public static func decode(data: some ContiguousBytes, minimumShortSide: Int = 0,
                              applyOrientation: Bool = true, source: String = "<memory>",
                              maxDecodeBytes: Int = Options.defaultMaxDecodeBytes) throws -> DecodedImage {
        try withDecoded(data: data, minimumShortSide: minimumShortSide, applyOrientation: applyOrientation,
                        maxDecodeBytes: maxDecodeBytes, source: source) { out, format in DecodedImage(decoded: out, format: format) }
    }

    /// Decodes into a C-owned buffer, runs `body` on it, and frees it (no copy into Swift arrays).
    static func withDecoded<T>(data: some ContiguousBytes, minimumShortSide: Int, applyOrientation: Bool,
                               maxDecodeBytes: Int, source: String, _ body: (vdb_decoded, ImageFormat) throws -> T) throws -> T {
        var out = vdb_decoded()
        var message = [CChar](repeating: 0, count: 512)
        let (rc, lead, sniffed): (Int32, String, ImageFormat?) = data.withUnsafeBytes { raw in
            let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
            let rc = vdb_decode(base, raw.count, Int32(clamping: minimumShortSide), applyOrientation ? 1 : 0,
                                max(1, maxDecodeBytes), &out, &message, message.count)
            if rc == Int32(VDB_OK) { return (rc, "", nil) }
            return (rc, ImageProbe.leadingBytes(raw), ImageFormat(code: vdb_sniff_format(base, raw.count)))
        }
        defer { vdb_decoded_free(&out) }
        guard rc == Int32(VDB_OK), let format = ImageFormat(code: out.format), out.pixels != nil else {
            let detail = cString(message)
            throw CLIPError(status: rc, format: sniffed, source: source, detail: detail, leading: lead)
        }
        return try body(out, format)
    }

    /// Reads and decodes a file. - Throws: `CLIPError` naming the file.
    public static func decode(file path: String, minimumShortSide: Int = 0,
                              applyOrientation: Bool = true) throws -> DecodedImage {
        try decode(data: try readFile(path), minimumShortSide: minimumShortSide,
                   applyOrientation: applyOrientation, source: path)
    }

    // MARK: preprocessing

    /// Preprocesses a JPEG/PNG file into a CLIP pixel tensor. - Throws: `CLIPError` naming the file.
    public static func pixels(fromFile path: String, config: CLIPPreprocessConfig = .default,
                              options: Options = .default) throws -> PixelTensor {
        try preprocess(data: try readFile(path), config: config, options: options, source: path).pixels
    }

    /// Preprocesses a JPEG/PNG file URL into a CLIP pixel tensor.
    public static func pixels(fromFile url: URL, config: CLIPPreprocessConfig = .default,
                              options: Options = .default) throws -> PixelTensor {
        try pixels(fromFile: url.path, config: config, options: options)
    }

    /// Preprocesses encoded JPEG/PNG bytes (format detected from content).
    public static func pixels(fromData data: some ContiguousBytes, config: CLIPPreprocessConfig = .default,
                              options: Options = .default, source: String = "<memory>") throws -> PixelTensor {
        try preprocess(data: data, config: config, options: options, source: source).pixels
    }

    /// Preprocesses already decoded RGB8 pixels.
    public static func pixels(fromRGB8 image: DecodedImage, config: CLIPPreprocessConfig = .default) throws -> PixelTensor {
        guard image.width > 0, image.height > 0, image.pixels.count == image.width * image.height * 3,
              image.fullWidth > 0, image.fullHeight > 0 else {
            throw CLIPError.invalidPixels(detail: "\(image.pixels.count) bytes for \(image.width)x\(image.height) RGB8")
        }
        return try image.pixels.withUnsafeBufferPointer {
            try tensor(pixels: $0, width: image.width, height: image.height, fullWidth: image.fullWidth,
                       fullHeight: image.fullHeight, config: config).0
        }
    }

    /// Decodes and preprocesses, reporting the decode scale and peak memory used.
    public static func preprocess(data: some ContiguousBytes, config: CLIPPreprocessConfig = .default,
                                  options: Options = .default, source: String = "<memory>") throws -> Result {
        try config.validate()
        let minSide = minimumShortSide(config: config, options: options)
        let info: ImageInfo
        do {
            info = try ImageProbe.info(of: data, source: source)
        } catch {
            // Unusual or broken headers: the full decoder gives the precise error (or copes).
            return try buffered(data: data, config: config, options: options, source: source)
        }
        // Stream: decode rows straight into the resampler (no full-size image in memory).
        let (fw, fh) = options.applyOrientation ? (info.width, info.height) : (info.storedWidth, info.storedHeight)
        let g = geometry(fullWidth: fw, fullHeight: fh, config: config)
        try g.check(source: source, maxBytes: options.maxDecodeBytes)
        var crop = [UInt8](repeating: 0, count: g.cw * g.ch * 3)
        var d = vdb_decoded()
        var message = [CChar](repeating: 0, count: 512)
        let rc = data.withUnsafeBytes { raw in
            crop.withUnsafeMutableBufferPointer { dst in
                vdb_decode_resize_crop(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count,
                                       Int32(clamping: minSide), options.applyOrientation ? 1 : 0, max(1, options.maxDecodeBytes),
                                       Int32(g.rw), Int32(g.rh), Int32(g.cx), Int32(g.cy), Int32(g.cw), Int32(g.ch),
                                       dst.baseAddress, &d, &message, message.count)
            }
        }
        guard rc == Int32(VDB_OK) else {
            let detail = cString(message)
            throw CLIPError(status: rc, format: info.format, source: source, detail: detail, leading: "")
        }
        let t = PixelTensor(width: g.cw, height: g.ch, data: normalize(crop: crop, width: g.cw, height: g.ch, config: config))
        return Result(pixels: t, format: info.format, width: fw, height: fh, orientation: info.orientation,
                      decodeScale: Int(d.scale_denom), peakBytes: d.peak_bytes + crop.count + t.data.count * 4)
    }

    /// Decode to a full image buffer, then resample (used when the headers could not be probed).
    static func buffered(data: some ContiguousBytes, config: CLIPPreprocessConfig, options: Options,
                         source: String) throws -> Result {
        try withDecoded(data: data, minimumShortSide: minimumShortSide(config: config, options: options),
                        applyOrientation: options.applyOrientation, maxDecodeBytes: options.maxDecodeBytes, source: source) { d, format in
            let w = Int(d.width), h = Int(d.height)
            let swap = d.orientation_applied != 0 && d.orientation >= 5
            let fullW = Int(swap ? d.source_height : d.source_width)
            let fullH = Int(swap ? d.source_width : d.source_height)
            let src = UnsafeBufferPointer(start: d.pixels, count: w * h * 3)
            let (t, workBytes) = try tensor(pixels: src, width: w, height: h, fullWidth: fullW, fullHeight: fullH,
                                            config: config)
            return Result(pixels: t, format: format, width: fullW, height: fullH, orientation: Int(d.orientation),
                          decodeScale: Int(d.scale_denom), peakBytes: max(d.peak_bytes, w * h * 3 + workBytes))
        }
    }

    /// The shortest decoded side below which DCT scaling must not go (0 disables scaling).
    static func minimumShortSide(config: CLIPPreprocessConfig, options: Options) -> Int {
        guard options.dctScaling, config.doResize else { return 0 }
        let target: Int
        switch config.size {
        case let .shortestEdge(n): target = n
        case let .exact(h, w): target = max(h, w)
        }
        return Int((Double(target) * max(options.dctScalingMargin, 1.0)).rounded(.up))
    }

    /// Output size of the resize step (height, width), as transformers' get_resize_output_image_size.
    public static func resizedSize(width: Int, height: Int, config: CLIPPreprocessConfig) -> (width: Int, height: Int) {
        guard config.doResize else { return (width, height) }
        switch config.size {
        case let .exact(h, w):
            return (w, h)
        case let .shortestEdge(n):
            // new_long = int(n * long / short): Python float division, truncated.
            if width <= height {
                return (n, Int((Double(n) * Double(height) / Double(width)).rounded(.towardZero)))
            } else {
                return (Int((Double(n) * Double(width) / Double(height)).rounded(.towardZero)), n)
            }
        }
    }

    /// Resize geometry from the full-resolution size, resampling from the (possibly DCT-scaled)
    /// decoded pixels, only inside the crop window; then rescale/normalize to CHW floats.
    /// Resize and crop geometry in resized coordinates (transformers' sizes and floored crop offsets).
    struct Geometry {
        var rw: Int, rh: Int, cx: Int, cy: Int, cw: Int, ch: Int

        /// Refuses a geometry the resampler cannot take (sizes beyond 32 bits, from extreme aspect
        /// ratios) or whose output (crop bytes and float tensor, 15 bytes per pixel) exceeds the cap.
        func check(source: String, maxBytes: Int) throws {
            guard [rw, rh, cx, cy, cw, ch].allSatisfy({ $0 >= -Int(Int32.max) && $0 <= Int(Int32.max) }) else {
                throw CLIPError.imageTooLarge(source: source, detail: "resizing to \(rw)x\(rh) is beyond what the resampler handles (aspect ratio too extreme)")
            }
            let (pixels, o1) = cw.multipliedReportingOverflow(by: ch)
            let (bytes, o2) = pixels.multipliedReportingOverflow(by: 15)
            guard !o1, !o2, bytes <= maxBytes else {
                throw CLIPError.imageTooLarge(source: source, detail: "the \(cw)x\(ch) output needs more than the \(maxBytes >> 20) MiB per-image memory limit")
            }
        }
    }

    static func geometry(fullWidth: Int, fullHeight: Int, config: CLIPPreprocessConfig) -> Geometry {
        let (rw, rh) = resizedSize(width: fullWidth, height: fullHeight, config: config)
        // centre crop as transformers: top = (H - crop) // 2 (floor), zero padding outside the image
        let (cw, ch) = config.doCenterCrop ? (config.cropWidth, config.cropHeight) : (rw, rh)
        let cx = config.doCenterCrop ? floorDiv(rw - cw, 2) : 0
        let cy = config.doCenterCrop ? floorDiv(rh - ch, 2) : 0
        return Geometry(rw: rw, rh: rh, cx: cx, cy: cy, cw: cw, ch: ch)
    }

    static func tensor(pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int, fullWidth: Int,
                       fullHeight: Int, config: CLIPPreprocessConfig) throws -> (PixelTensor, Int) {
        try config.validate()
        var g = geometry(fullWidth: fullWidth, fullHeight: fullHeight, config: config)
        if !config.doResize { g = geometry(fullWidth: width, fullHeight: height, config: config) }
        try g.check(source: "resize", maxBytes: Options.defaultMaxDecodeBytes * 4)
        var crop = [UInt8](repeating: 0, count: g.cw * g.ch * 3)
        let rc = crop.withUnsafeMutableBufferPointer { dst in
            vdb_resize_crop_rgb8(pixels.baseAddress, Int32(width), Int32(height), width * 3,
                                 Int32(g.rw), Int32(g.rh), Int32(g.cx), Int32(g.cy), Int32(g.cw), Int32(g.ch),
                                 dst.baseAddress)
        }
        if rc == Int32(VDB_ERR_NO_MEMORY) { throw CLIPError.outOfMemory(source: "resize") }
        if rc != Int32(VDB_OK) {
            throw CLIPError.invalidPixels(detail: "resize \(width)x\(height) -> \(g.rw)x\(g.rh) crop \(g.cw)x\(g.ch) rejected")
        }
        let data = normalize(crop: crop, width: g.cw, height: g.ch, config: config)
        // intermediate of the horizontal pass: (source rows under the crop window) x crop width x 3
        let scaleY = Double(height) / Double(g.rh)
        let rowsNeeded = min(height, Int((Double(g.ch) * scaleY).rounded(.up)) + 2 * Int((2 * max(scaleY, 1)).rounded(.up)) + 2)
        let workBytes = crop.count + data.count * 4 + rowsNeeded * g.cw * 3
        return (PixelTensor(width: g.cw, height: g.ch, data: data), workBytes)
    }

    /// RGB8 crop -> CHW floats: float32(v * rescale_factor), then (v - mean) / std.
    static func normalize(crop: [UInt8], width: Int, height: Int, config: CLIPPreprocessConfig) -> [Float] {
        let count = 3 * width * height
        let mean = config.imageMean, std = config.imageStd
        return [Float](unsafeUninitializedCapacity: count) { buf, n in
            crop.withUnsafeBufferPointer { c in
                mean.withUnsafeBufferPointer { m in
                    std.withUnsafeBufferPointer { s in
                        vdb_rgb8_to_chw(c.baseAddress, Int32(width), Int32(height), config.doRescale ? 1 : 0,
                                        config.rescaleFactor, config.doNormalize ? 1 : 0,
                                        m.baseAddress, s.baseAddress, buf.baseAddress)
                    }
                }
            }
            n = count
        }
    }

    /// A NUL-terminated C message buffer as a String.
    static func cString(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func readFile(_ path: String) throws -> Data {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw CLIPError.unreadableFile(path: path, reason: "is a directory")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CLIPError.unreadableFile(path: path, reason: ImageProbe.fileProblem(path))
        }
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw CLIPError.unreadableFile(path: path, reason: "\(error)")
        }
    }
}
