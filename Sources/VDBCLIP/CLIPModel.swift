import Crypto
import Foundation

/// A CLIP model (both towers, tokenizer and preprocessing settings) loaded from a Hugging Face
/// checkpoint directory, running on the CPU with vdb's own kernels: OpenAI CLIP (`model_type: clip`) or
/// Chinese-CLIP (`chinese_clip`, BERT text tower and WordPiece tokenizer); the API is the same.
///
/// ```swift
/// let model = try CLIPModel.load(directory: URL(fileURLWithPath: "clip-vit-base-patch32"))
/// let t = try model.embed(texts: ["a photo of a cat", "a photo of a dog"])
/// let i = try model.embed(pixels: [pixelTensor])
/// let p = try model.classify(pixels: pixelTensor, labels: ["cat", "dog"])
/// ```
///
/// Embeddings are the *projected* tower outputs, not L2-normalized (like `get_text_features` /
/// `get_image_features` in `transformers`); `similarity` normalizes.
///
/// Threads: each call runs on up to `threads` threads (default: all cores), vdb's own: the
/// matrix products (vdb's packed GEMM, `CVDBKernels/gemm.c`: AVX-512, AVX2 or portable by the CPU) are
/// split into column panels and the element-wise and attention kernels into row ranges. Every
/// output is summed in the same order however the work is split, so embeddings are bit-identical
/// from call to call and for any `threads`, whatever else runs in the process (they depend only on
/// the CPU's instruction-set level and on `precision`). Weights are immutable after loading, so
/// one model may be used from several threads at once.
///
/// Precision: `.float32` by default; `.bfloat16` halves the weights' memory and about doubles the
/// speed of the matrix products on CPUs with AVX512_BF16, at a small, measured accuracy cost
/// (``CLIPPrecision``).
public final class CLIPModel: Sendable {
    /// The checkpoint's configuration.
    public let config: CLIPConfig
    /// How images must be preprocessed for this checkpoint (`preprocessor_config.json`).
    public let preprocess: CLIPPreprocessConfig
    /// The tokenizer of the checkpoint's family: `CLIPTokenizer` (`vocab.json` + `merges.txt`) or
    /// `BertTokenizer` (`vocab.txt` + `tokenizer_config.json`); nil when the directory has no
    /// tokenizer files (then only `embed(tokenIDs:)` and the image side work).
    public let tokenizer: (any TextTokenizer)?
    /// `logit_scale` as stored (a natural log; `exp(logitScale)` multiplies cosines into logits).
    public let logitScale: Float
    /// A stable identifier of this checkpoint: SHA-256 hex digest of config.json, the
    /// safetensors header and a sample of the weight bytes. Equal checkpoints give equal values.
    public let fingerprint: String
    /// Threads for the towers' kernels.
    public let threads: Int
    /// How the towers' matrix products multiply.
    public let precision: CLIPPrecision
    /// The checkpoint directory the model was loaded from.
    public let directory: URL
    /// The embedding width (`projection_dim`).
    public var embeddingDimension: Int { config.projectionDim }

    let vision: VisionTower
    let text: any TextEncoder

    /// Loads a checkpoint directory: `config.json`, `model.safetensors` (memory-mapped; F32, F16
    /// or BF16, converted to float32), the tokenizer files (optional: `vocab.json` + `merges.txt`
    /// for CLIP, `vocab.txt` + `tokenizer_config.json` for Chinese-CLIP), and
    /// `preprocessor_config.json` (optional; otherwise the family's defaults for the config's
    /// image size: CLIP's shortest-edge resize + centre crop, Chinese-CLIP's square resize).
    ///
    /// - Parameters:
    ///   - threads: threads for inference (default: active processor count).
    ///   - precision: how the matrix products multiply (default `.float32`; see ``CLIPPrecision``).
    /// - Throws: `CLIPError` naming the missing file, tensor or field.
    public static func load(directory: URL, threads: Int? = nil, precision: CLIPPrecision = .float32) throws -> CLIPModel {
        try CLIPModel(directory: directory, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                      precision: precision)
    }

    private init(directory: URL, threads: Int, precision: CLIPPrecision) throws {
        let fm = FileManager.default
        let dir = directory.path
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw CLIPError.missingFile(path: dir, hint: "not a directory (expected a Hugging Face CLIP checkpoint directory)")
        }
        let configURL = directory.appendingPathComponent("config.json")
        guard let configData = fm.contents(atPath: configURL.path) else {
            throw CLIPError.missingFile(path: configURL.path, hint: "every Hugging Face checkpoint has one")
        }
        let config = try CLIPConfig.parse(configData, file: configURL.path)
        let weightsPath = directory.appendingPathComponent("model.safetensors").path
        guard fm.fileExists(atPath: weightsPath) else {
            if fm.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path) {
                throw CLIPError.pytorchBinOnly(directory: dir)
            }
            if let shard = try? fm.contentsOfDirectory(atPath: dir).first(where: { $0.hasSuffix(".safetensors") }) {
                throw CLIPError.unsupported(what: "\(dir) has \(shard) but no model.safetensors (sharded checkpoints are not supported; "
                    + "re-save with save_pretrained(d, safe_serialization=True, max_shard_size='10GB'))")
            }
            throw CLIPError.missingFile(path: weightsPath, hint: "the weights (model.safetensors) are missing")
        }
        let file = try SafeTensorsFile(path: weightsPath)
        let pool = ScratchPool()  // one for both towers: activations of one size class stay allocated
        let vision = try VisionTower.load(file, config: config, precision: precision, pool: pool)
        let text = try loadTextEncoder(file, config: config, precision: precision, pool: pool)
        let scale = try file.tensor("logit_scale", shape: [])
        let tokenizer = try loadTextTokenizer(directory: directory, config: config)
        let ppURL = directory.appendingPathComponent("preprocessor_config.json")
        if let pp = fm.contents(atPath: ppURL.path) {
            preprocess = try CLIPPreprocessConfig.parse(pp, file: ppURL.path)
        } else if case .chineseCLIP = config.family {
            preprocess = .chineseCLIPDefaults(size: config.imageSize)
        } else {
            preprocess = .defaults(size: config.imageSize)
        }
        guard preprocess.cropHeight == config.imageSize, preprocess.cropWidth == config.imageSize else {
            throw CLIPError.badConfig(file: ppURL.path, field: "crop_size",
                problem: "\(preprocess.cropHeight)x\(preprocess.cropWidth) but the vision tower takes \(config.imageSize)x\(config.imageSize)")
        }
        self.config = config
        self.vision = vision
        self.text = text
        self.tokenizer = tokenizer
        self.logitScale = scale.pointer[0]
        self.threads = max(1, threads)
        self.precision = precision
        self.directory = directory.standardizedFileURL
        self.fingerprint = SHA256.hash(data: configData + Data(file.headerBytes) + Data(file.sampleBytes()))
            .map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Text

    /// Token ids (start/end tokens, truncated and padded to the tokenizer's context length) for `text`.
    public func tokenize(_ text: String) throws -> [Int32] {
        guard let tok = tokenizer else {
            throw CLIPError.missingFile(path: directory.path,
                                        hint: "this checkpoint directory has no tokenizer files (\(config.family.tokenizerFiles))")
        }
        return tok.encode(text)
    }

    /// Projected (not normalized) text embeddings, one per text, in order.
    public func embed(texts: [String]) throws -> [[Float]] {
        try embed(tokenIDs: texts.map(tokenize))
    }

    /// Projected text embeddings from token id sequences (each at most `contextLength` ids,
    /// each id below `vocab_size`). CLIP: the embedding is read at the first end token
    /// (`eos_token_id`; `argmax(ids)` for legacy configs with `eos_token_id == 2`), as in HF.
    /// Chinese-CLIP: it is read at `[CLS]` (position 0), and trailing `pad_token_id`s are padding,
    /// masked out as the tokenizer's `attention_mask` would.
    public func embed(tokenIDs: [[Int32]]) throws -> [[Float]] {
        for (n, ids) in tokenIDs.enumerated() {
            guard !ids.isEmpty, ids.count <= config.contextLength else {
                throw CLIPError.invalidInput("text \(n): \(ids.count) token ids; expected 1...\(config.contextLength)")
            }
            if let bad = ids.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw CLIPError.invalidInput("text \(n): token id \(bad) is outside the vocabulary (0..<\(config.vocabSize))")
            }
        }
        // Group texts of similar length so short captions are not padded to long ones; chunks
        // keep the activations small (about 2.5k token rows).
        let lengths = tokenIDs.map { text.usedLength($0) }
        let order = tokenIDs.indices.sorted { lengths[$0] < lengths[$1] }
        let p = config.projectionDim, rowsBudget = 2560
        var result = [[Float]](repeating: [], count: tokenIDs.count)
        var start = 0
        while start < order.count {
            var end = start
            while end < order.count {
                if end > start, (end - start + 1) * lengths[order[end]] > rowsBudget { break }
                end += 1
            }
            let chunk = order[start..<end].map { tokenIDs[$0] }
            var out = [Float](repeating: 0, count: chunk.count * p)
            out.withUnsafeMutableBufferPointer { text.forward(chunk, out: $0.baseAddress!, threads: threads) }
            for (k, idx) in order[start..<end].enumerated() { result[idx] = Array(out[(k * p)..<((k + 1) * p)]) }
            start = end
        }
        return result
    }

    // MARK: Images

    /// Projected (not normalized) image embeddings of preprocessed pixel tensors (CHW, normalized,
    /// `imageSize` x `imageSize`; see `preprocess`).
    public func embed(pixels: [PixelTensor]) throws -> [[Float]] {
        let s = config.imageSize, ch = config.numChannels
        for (n, px) in pixels.enumerated() {
            guard px.width == s, px.height == s, px.data.count == ch * s * s else {
                throw CLIPError.invalidInput("image \(n): pixel tensor is \(px.width)x\(px.height) with \(px.data.count) values; "
                    + "the model needs \(s)x\(s) with \(ch * s * s) (\(ch) channels, CHW)")
            }
        }
        let p = config.projectionDim, per = ch * s * s
        let chunkSize = 32
        var result: [[Float]] = []
        result.reserveCapacity(pixels.count)
        var start = 0
        while start < pixels.count {
            let end = min(pixels.count, start + chunkSize)
            var input = [Float](repeating: 0, count: (end - start) * per)
            for k in start..<end { input.replaceSubrange(((k - start) * per)..<((k - start + 1) * per), with: pixels[k].data) }
            var out = [Float](repeating: 0, count: (end - start) * p)
            input.withUnsafeBufferPointer { inp in
                out.withUnsafeMutableBufferPointer { vision.forward(inp.baseAddress!, count: end - start, out: $0.baseAddress!, threads: threads) }
            }
            for k in 0..<(end - start) { result.append(Array(out[(k * p)..<((k + 1) * p)])) }
            start = end
        }
        return result
    }

    // MARK: Similarity

    /// Cosine similarity of two embeddings (0 when either is all zeros).
    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "embeddings of different widths: \(a.count) vs \(b.count)")
        var dot: Float = 0, na: Float = 0, nb: Float = 0
        for i in 0..<a.count { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i] }
        let den = (na * nb).squareRoot()
        return den > 0 ? dot / den : 0
    }

    /// Logits as in `CLIPModel.forward`: `exp(logitScale) * cosine(image_i, text_j)`, shape
    /// [images][texts] (`logits_per_image`; transpose for `logits_per_text`).
    public func similarity(images: [[Float]], texts: [[Float]]) -> [[Float]] {
        let s = Float(Foundation.exp(Double(logitScale)))
        return images.map { i in texts.map { t in s * Self.cosine(i, t) } }
    }

    /// Zero-shot classification: for each label, the text `template` with `{}` replaced by the
    /// label; returns the softmax over labels of `exp(logitScale) * cosine`, in label order.
    public func classify(pixels: PixelTensor, labels: [String], template: String = "a photo of a {}") throws -> [Float] {
        guard !labels.isEmpty else { throw CLIPError.invalidInput("classify needs at least one label") }
        let image = try embed(pixels: [pixels])[0]
        return try classify(imageEmbedding: image, labels: labels, template: template)
    }

    /// Zero-shot classification of an already computed image embedding.
    public func classify(imageEmbedding: [Float], labels: [String], template: String = "a photo of a {}") throws -> [Float] {
        guard !labels.isEmpty else { throw CLIPError.invalidInput("classify needs at least one label") }
        let prompts = labels.map { template.contains("{}") ? template.replacingOccurrences(of: "{}", with: $0) : template + " " + $0 }
        let texts = try embed(texts: prompts)
        let logits = similarity(images: [imageEmbedding], texts: texts)[0]
        let m = logits.max() ?? 0
        let e = logits.map { Foundation.exp($0 - m) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }
}
