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
    /// Text context length (`max_position_embeddings`), 77 for released models.
    public var contextLength: Int
    /// `text_config.eos_token_id`; 2 (legacy) means "pool at argmax(input_ids)".
    public var eosTokenID: Int
    public var imageSize: Int
    public var patchSize: Int
    public var numChannels: Int
    public var projectionDim: Int
    public var patchesPerSide: Int { imageSize / patchSize }
    /// Tokens in the vision sequence: patches plus the class token.
    public var visionSequenceLength: Int { patchesPerSide * patchesPerSide + 1 }

    /// Parses `config.json` bytes. `file` is used in error messages.
    public static func parse(_ data: Data, file: String = "config.json") throws -> CLIPConfig {
        guard let json = try? JSONSerialization.jsonObject(with: data), let root = json as? [String: Any] else {
            throw CLIPError.badConfig(file: file, field: "(root)", problem: "not a JSON object")
        }
        if let type = root["model_type"] {
            guard let t = type as? String else {
                throw CLIPError.badConfig(file: file, field: "model_type", problem: "not a string")
            }
            guard t == "clip" else {
                throw CLIPError.unsupported(what: "\(file): model_type '\(t)' (vdb runs 'clip' checkpoints: ViT image tower + text transformer)")
            }
        }
        guard let textAny = root["text_config"] else {
            throw CLIPError.badConfig(file: file, field: "text_config", problem: "missing")
        }
        guard let text = textAny as? [String: Any] else {
            throw CLIPError.badConfig(file: file, field: "text_config", problem: "not an object")
        }
        guard let visionAny = root["vision_config"] else {
            throw CLIPError.badConfig(file: file, field: "vision_config", problem: "missing")
        }
        guard let vision = visionAny as? [String: Any] else {
            throw CLIPError.badConfig(file: file, field: "vision_config", problem: "not an object")
        }
        func int(_ d: [String: Any], _ prefix: String, _ key: String, _ def: Int, min: Int = 1) throws -> Int {
            guard let v = d[key], !(v is NSNull) else { return def }
            guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
                throw CLIPError.badConfig(file: file, field: prefix + key, problem: "expected an integer, found \(v)")
            }
            guard n.intValue >= min else {
                throw CLIPError.badConfig(file: file, field: prefix + key, problem: "must be at least \(min), found \(n.intValue)")
            }
            return n.intValue
        }
        func float(_ d: [String: Any], _ prefix: String, _ key: String, _ def: Double) throws -> Double {
            guard let v = d[key], !(v is NSNull) else { return def }
            guard let n = v as? NSNumber else {
                throw CLIPError.badConfig(file: file, field: prefix + key, problem: "expected a number, found \(v)")
            }
            return n.doubleValue
        }
        func tower(_ d: [String: Any], _ prefix: String, hidden: Int, inter: Int, layers: Int, heads: Int) throws -> CLIPTowerConfig {
            let h = try int(d, prefix, "hidden_size", hidden)
            let nh = try int(d, prefix, "num_attention_heads", heads)
            guard h % nh == 0 else {
                throw CLIPError.badConfig(file: file, field: prefix + "num_attention_heads",
                                          problem: "\(nh) heads do not divide hidden_size \(h)")
            }
            let actName: String
            if let a = d["hidden_act"] {
                guard let s = a as? String else {
                    throw CLIPError.badConfig(file: file, field: prefix + "hidden_act", problem: "not a string")
                }
                actName = s
            } else {
                actName = "quick_gelu"
            }
            guard let act = CLIPActivation(rawValue: actName) else {
                throw CLIPError.unsupported(what: "\(file): \(prefix)hidden_act '\(actName)' (vdb implements quick_gelu and gelu)")
            }
            let eps = try float(d, prefix, "layer_norm_eps", 1e-5)
            guard eps > 0, eps < 1 else {
                throw CLIPError.badConfig(file: file, field: prefix + "layer_norm_eps", problem: "must be in (0, 1), found \(eps)")
            }
            return CLIPTowerConfig(hiddenSize: h, intermediateSize: try int(d, prefix, "intermediate_size", inter),
                                   layers: try int(d, prefix, "num_hidden_layers", layers), heads: nh,
                                   activation: act, layerNormEps: Float(eps))
        }
        let t = try tower(text, "text_config.", hidden: 512, inter: 2048, layers: 12, heads: 8)
        let v = try tower(vision, "vision_config.", hidden: 768, inter: 3072, layers: 12, heads: 12)
        let imageSize = try int(vision, "vision_config.", "image_size", 224)
        let patch = try int(vision, "vision_config.", "patch_size", 32)
        guard imageSize % patch == 0 else {
            throw CLIPError.badConfig(file: file, field: "vision_config.patch_size",
                                      problem: "\(patch) does not divide image_size \(imageSize)")
        }
        let vocab = try int(text, "text_config.", "vocab_size", 49408)
        let eos = try int(text, "text_config.", "eos_token_id", 49407, min: 0)
        guard eos < vocab else {
            throw CLIPError.badConfig(file: file, field: "text_config.eos_token_id", problem: "\(eos) is not below vocab_size \(vocab)")
        }
        return CLIPConfig(text: t, vision: v, vocabSize: vocab,
                          contextLength: try int(text, "text_config.", "max_position_embeddings", 77),
                          eosTokenID: eos, imageSize: imageSize, patchSize: patch,
                          numChannels: try int(vision, "vision_config.", "num_channels", 3),
                          projectionDim: try int(root, "", "projection_dim", 512))
    }
}

// The image preprocessing settings (`CLIPPreprocessConfig`) live in Image/CLIPPreprocessConfig.swift.
