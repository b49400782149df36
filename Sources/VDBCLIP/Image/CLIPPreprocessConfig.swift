import Foundation

/// CLIP image preprocessing parameters, as stored in a Hugging Face `preprocessor_config.json`
/// (`CLIPImageProcessor`). Missing keys take the CLIP defaults (openai/clip-vit-base-patch32).
///
/// `size` may be an int (shortest edge), `{"shortest_edge": n}` or `{"height": h, "width": w}`;
/// `crop_size` an int or `{"height": h, "width": w}`. Only bicubic resampling (`resample` = 3,
/// Pillow-compatible) is supported; other values are rejected with `CLIPError.badConfig`.
public struct CLIPPreprocessConfig: Sendable, Codable, Equatable {
    /// How `size` resizes the image.
    public enum ResizeTarget: Sendable, Equatable {
        /// Shorter side becomes this length, aspect kept; longer side `int(n * long / short)`.
        case shortestEdge(Int)
        /// Resize to exactly this size.
        case exact(height: Int, width: Int)
    }

    public var doResize: Bool
    public var size: ResizeTarget
    public var resample: Int
    public var doCenterCrop: Bool
    public var cropHeight: Int
    public var cropWidth: Int
    public var doRescale: Bool
    public var rescaleFactor: Double
    public var doNormalize: Bool
    public var imageMean: [Float]
    public var imageStd: [Float]
    public var doConvertRGB: Bool

    public static let clipMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let clipStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// CLIP defaults: shortest edge 224, bicubic, centre crop 224x224, rescale 1/255, OpenAI mean/std.
    public init(doResize: Bool = true, size: ResizeTarget = .shortestEdge(224), resample: Int = 3,
                doCenterCrop: Bool = true, cropHeight: Int = 224, cropWidth: Int = 224,
                doRescale: Bool = true, rescaleFactor: Double = 1.0 / 255.0, doNormalize: Bool = true,
                imageMean: [Float] = CLIPPreprocessConfig.clipMean,
                imageStd: [Float] = CLIPPreprocessConfig.clipStd, doConvertRGB: Bool = true) {
        self.doResize = doResize
        self.size = size
        self.resample = resample
        self.doCenterCrop = doCenterCrop
        self.cropHeight = cropHeight
        self.cropWidth = cropWidth
        self.doRescale = doRescale
        self.rescaleFactor = rescaleFactor
        self.doNormalize = doNormalize
        self.imageMean = imageMean
        self.imageStd = imageStd
        self.doConvertRGB = doConvertRGB
    }

    /// The CLIP default configuration.
    public static let `default` = CLIPPreprocessConfig()

    /// CLIP defaults for a model of input size `size` (shortest edge and square crop), used when a
    /// checkpoint has no `preprocessor_config.json`.
    public static func defaults(size: Int = 224) -> CLIPPreprocessConfig {
        CLIPPreprocessConfig(size: .shortestEdge(size), cropHeight: size, cropWidth: size)
    }

    /// Parses `preprocessor_config.json` bytes; `file` names the source in errors.
    /// - Throws: `CLIPError.badConfig` naming the file and field.
    public static func parse(_ data: Data, file: String = "preprocessor_config.json") throws -> CLIPPreprocessConfig {
        try decode(json: data, source: file)
    }

    /// The shortest-edge resize target (for an exact `height`/`width` size: the smaller of the two).
    /// Setting it selects a shortest-edge resize.
    public var shortestEdge: Int {
        get {
            switch size {
            case let .shortestEdge(n): return n
            case let .exact(h, w): return min(h, w)
            }
        }
        set { size = .shortestEdge(newValue) }
    }

    /// Alias of `imageMean` (RGB).
    public var mean: [Float] {
        get { imageMean }
        set { imageMean = newValue }
    }

    /// Alias of `imageStd` (RGB).
    public var std: [Float] {
        get { imageStd }
        set { imageStd = newValue }
    }

    /// Reads `preprocessor_config.json` (pass the file or the checkpoint directory containing it).
    /// A directory without the file yields the defaults.
    /// - Throws: `CLIPError.unreadableFile` or `CLIPError.badConfig` naming the bad field.
    public static func load(from url: URL) throws -> CLIPPreprocessConfig {
        var isDir: ObjCBool = false
        var file = url
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
            file = url.appendingPathComponent("preprocessor_config.json")
            if !FileManager.default.fileExists(atPath: file.path) { return .default }
        }
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw CLIPError.unreadableFile(path: file.path, reason: ImageProbe.fileProblem(file.path))
        }
        return try decode(json: data, source: file.path)
    }

    /// Parses the JSON text of a `preprocessor_config.json`.
    public static func decode(json: Data, source: String = "preprocessor_config.json") throws -> CLIPPreprocessConfig {
        do {
            return try JSONDecoder().decode(CLIPPreprocessConfig.self, from: json)
        } catch let CLIPError.badConfig(_, field, problem) {
            // Checks inside the decoder do not know the file: name it here.
            throw CLIPError.badConfig(file: source, field: field, problem: problem)
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.dataCorrupted(ctx),
                let DecodingError.valueNotFound(_, ctx) {
            let field = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw CLIPError.badConfig(file: source, field: field.isEmpty ? "(root)" : field, problem: ctx.debugDescription)
        } catch {
            throw CLIPError.badConfig(file: source, field: "(root)", problem: "\(error)")
        }
    }

    /// Checks value ranges; called after decoding and before preprocessing.
    /// - Throws: `CLIPError.badConfig` naming the field and value (the file is named by `parse`,
    ///   `load` and `decode`; "preprocessing configuration" otherwise).
    public func validate() throws {
        func bad(_ field: String, _ problem: String) -> CLIPError {
            CLIPError.badConfig(file: "preprocessing configuration", field: field, problem: problem)
        }
        if resample != 3 {
            throw bad("resample", "is \(resample); only 3 (bicubic) is supported")
        }
        if imageMean.count != 3 || imageStd.count != 3 {
            throw bad("image_mean/image_std", "need 3 values each, got \(imageMean.count)/\(imageStd.count)")
        }
        if imageStd.contains(where: { !($0 > 0) }) {
            throw bad("image_std", "must be positive, got \(imageStd)")
        }
        switch size {
        case let .shortestEdge(n) where n <= 0 || n > 16384:
            throw bad("size", "shortest_edge \(n) is out of range 1...16384")
        case let .exact(h, w) where h <= 0 || w <= 0 || h > 16384 || w > 16384:
            throw bad("size", "\(h)x\(w) is out of range 1...16384")
        default: break
        }
        if doCenterCrop && (cropHeight <= 0 || cropWidth <= 0 || cropHeight > 16384 || cropWidth > 16384) {
            throw bad("crop_size", "\(cropHeight)x\(cropWidth) is out of range 1...16384")
        }
    }

    enum CodingKeys: String, CodingKey {
        case doResize = "do_resize", size, resample, doCenterCrop = "do_center_crop", cropSize = "crop_size"
        case doRescale = "do_rescale", rescaleFactor = "rescale_factor", doNormalize = "do_normalize"
        case imageMean = "image_mean", imageStd = "image_std", doConvertRGB = "do_convert_rgb"
    }

    private struct SizeKeys: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CLIPPreprocessConfig()
        doResize = try c.decodeIfPresent(Bool.self, forKey: .doResize) ?? d.doResize
        resample = try c.decodeIfPresent(Int.self, forKey: .resample) ?? d.resample
        doCenterCrop = try c.decodeIfPresent(Bool.self, forKey: .doCenterCrop) ?? d.doCenterCrop
        doRescale = try c.decodeIfPresent(Bool.self, forKey: .doRescale) ?? d.doRescale
        rescaleFactor = try c.decodeIfPresent(Double.self, forKey: .rescaleFactor) ?? d.rescaleFactor
        doNormalize = try c.decodeIfPresent(Bool.self, forKey: .doNormalize) ?? d.doNormalize
        doConvertRGB = try c.decodeIfPresent(Bool.self, forKey: .doConvertRGB) ?? d.doConvertRGB
        imageMean = try Self.floats(c, .imageMean) ?? d.imageMean
        imageStd = try Self.floats(c, .imageStd) ?? d.imageStd

        size = d.size
        if c.contains(.size), try !c.decodeNil(forKey: .size) {
            if let n = try? c.decode(Int.self, forKey: .size) {
                size = .shortestEdge(n)
            } else {
                let s = try c.nestedContainer(keyedBy: SizeKeys.self, forKey: .size)
                if let n = try s.decodeIfPresent(Int.self, forKey: SizeKeys(stringValue: "shortest_edge")) {
                    size = .shortestEdge(n)
                } else if let h = try s.decodeIfPresent(Int.self, forKey: SizeKeys(stringValue: "height")),
                          let w = try s.decodeIfPresent(Int.self, forKey: SizeKeys(stringValue: "width")) {
                    size = .exact(height: h, width: w)
                } else {
                    throw CLIPError.badConfig(file: "preprocessing configuration", field: "size",
                                              problem: "needs 'shortest_edge' or 'height' and 'width'")
                }
            }
        }
        cropHeight = d.cropHeight
        cropWidth = d.cropWidth
        if c.contains(.cropSize), try !c.decodeNil(forKey: .cropSize) {
            if let n = try? c.decode(Int.self, forKey: .cropSize) {
                cropHeight = n
                cropWidth = n
            } else {
                let s = try c.nestedContainer(keyedBy: SizeKeys.self, forKey: .cropSize)
                guard let h = try s.decodeIfPresent(Int.self, forKey: SizeKeys(stringValue: "height")),
                      let w = try s.decodeIfPresent(Int.self, forKey: SizeKeys(stringValue: "width")) else {
                    throw CLIPError.badConfig(file: "preprocessing configuration", field: "crop_size",
                                              problem: "needs 'height' and 'width'")
                }
                cropHeight = h
                cropWidth = w
            }
        }
        try validate()
    }

    private static func floats(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [Float]? {
        guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
        if let v = try? c.decode([Double].self, forKey: key) { return v.map { Float($0) } }
        let one = try c.decode(Double.self, forKey: key)   // a single number applies to all channels
        return [Float](repeating: Float(one), count: 3)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(doResize, forKey: .doResize)
        switch size {
        case let .shortestEdge(n): try c.encode(["shortest_edge": n], forKey: .size)
        case let .exact(h, w): try c.encode(["height": h, "width": w], forKey: .size)
        }
        try c.encode(resample, forKey: .resample)
        try c.encode(doCenterCrop, forKey: .doCenterCrop)
        try c.encode(["height": cropHeight, "width": cropWidth], forKey: .cropSize)
        try c.encode(doRescale, forKey: .doRescale)
        try c.encode(rescaleFactor, forKey: .rescaleFactor)
        try c.encode(doNormalize, forKey: .doNormalize)
        try c.encode(imageMean.map { Double($0) }, forKey: .imageMean)
        try c.encode(imageStd.map { Double($0) }, forKey: .imageStd)
        try c.encode(doConvertRGB, forKey: .doConvertRGB)
    }
}
