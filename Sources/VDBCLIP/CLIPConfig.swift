import Foundation

/// The activation of a tower's MLP.
public enum CLIPActivation: String, Sendable, Equatable {
    /// `x * sigmoid(1.702 x)`, OpenAI's CLIP.
    case quickGELU = "quick_gelu"
    /// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`.
    case gelu = "gelu"
}

/// Shape of one transformer tower, as read from `config.json`.
public struct CLIPTowerConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var activation: CLIPActivation
    public var layerNormEps: Float
    public var headDim: Int { hiddenSize / heads }
}

/// A CLIP checkpoint's configuration (`config.json` in Hugging Face format).
///
/// Absent keys take the values `transformers` would use (its `CLIPTextConfig`/`CLIPVisionConfig`
/// defaults, i.e. the ViT-B/32 shapes), exactly as `CLIPModel.from_pretrained` does; keys of the
/// wrong type or with impossible values are errors naming the field.
public struct CLIPConfig: Sendable, Equatable {
    public var text: CLIPTowerConfig
    public var vision: CLIPTowerConfig
    public var vocabSize: Int
    /// Text context length (`max_position_embeddings`): 77 for released CLIP models, 512 for
    /// Chinese-CLIP (whose tokenizer stops earlier, at its `model_max_length`, 52 by default).
    public var contextLength: Int
    /// `text_config.eos_token_id`; 2 (legacy) means "pool at argmax(input_ids)". CLIP text towers
    /// only (0 for Chinese-CLIP, whose BERT tower reads the `[CLS]` token).
    public var eosTokenID: Int
    public var imageSize: Int
    public var patchSize: Int
    public var numChannels: Int
    public var projectionDim: Int
    public var patchesPerSide: Int { imageSize / patchSize }
    /// Tokens in the vision sequence: patches plus the class token.
    public var visionSequenceLength: Int { patchesPerSide * patchesPerSide + 1 }

    /// Which text tower and tokenizer the checkpoint uses (from `model_type`: `clip` or
    /// `chinese_clip`); the vision tower is CLIP's ViT in both.
    public var family: CLIPModelFamily = .clip

    /// Parses `config.json` bytes. `file` is used in error messages.
    public static func parse(_ data: Data, file: String = "config.json") throws -> CLIPConfig {
        let r = ConfigReader(file: file)
        let root = try r.root(data)
        switch try r.string(root, "", "model_type", "clip") {
        case "clip": break
        case "chinese_clip": return try parseChineseCLIP(root, reader: r)
        case let t:
            throw CLIPError.unsupported(what: "\(file): model_type '\(t)' (vdb runs 'clip' and 'chinese_clip' checkpoints: "
                + "ViT image tower + CLIP text transformer or BERT)")
        }
        guard let text = try r.object(root, "", "text_config") else {
            throw CLIPError.badConfig(file: file, field: "text_config", problem: "missing")
        }
        guard let vision = try r.object(root, "", "vision_config") else {
            throw CLIPError.badConfig(file: file, field: "vision_config", problem: "missing")
        }
        let t = try r.tower(text, "text_config.", hidden: 512, inter: 2048, layers: 12, heads: 8,
                            activation: "quick_gelu", eps: 1e-5)
        let vocab = try r.int(text, "text_config.", "vocab_size", 49408, max: 1 << 24)
        let eos = try r.int(text, "text_config.", "eos_token_id", 49407, min: 0, max: 1 << 24)
        guard eos < vocab else {
            throw CLIPError.badConfig(file: file, field: "text_config.eos_token_id", problem: "\(eos) is not below vocab_size \(vocab)")
        }
        return try visionConfig(vision, reader: r, text: t, vocabSize: vocab,
                                contextLength: try r.int(text, "text_config.", "max_position_embeddings", 77),
                                eosTokenID: eos, projectionDim: try r.int(root, "", "projection_dim", 512))
    }

    /// Completes a configuration with the `vision_config` keys, which CLIP and Chinese-CLIP share
    /// (with the same defaults: ViT-B/32, `quick_gelu`, eps 1e-5).
    static func visionConfig(_ vision: [String: Any], reader r: ConfigReader, text: CLIPTowerConfig, vocabSize: Int,
                             contextLength: Int, eosTokenID: Int, projectionDim: Int) throws -> CLIPConfig {
        let v = try r.tower(vision, "vision_config.", hidden: 768, inter: 3072, layers: 12, heads: 12,
                            activation: "quick_gelu", eps: 1e-5)
        let imageSize = try r.int(vision, "vision_config.", "image_size", 224)
        let patch = try r.int(vision, "vision_config.", "patch_size", 32)
        guard imageSize % patch == 0 else {
            throw CLIPError.badConfig(file: r.file, field: "vision_config.patch_size",
                                      problem: "\(patch) does not divide image_size \(imageSize)")
        }
        return CLIPConfig(text: text, vision: v, vocabSize: vocabSize, contextLength: contextLength,
                          eosTokenID: eosTokenID, imageSize: imageSize, patchSize: patch,
                          numChannels: try r.int(vision, "vision_config.", "num_channels", 3),
                          projectionDim: projectionDim)
    }
}

// The image preprocessing settings (`CLIPPreprocessConfig`) live in Image/CLIPPreprocessConfig.swift.
