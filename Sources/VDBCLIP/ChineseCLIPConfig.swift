import Foundation

/// The checkpoint families vdb runs. They share the ViT image tower, the projections and
/// `logit_scale`; they differ in the text side (tower, tokenizer) and the default image
/// preprocessing, which are chosen from this value when the model loads.
public enum CLIPModelFamily: Sendable, Equatable {
    /// OpenAI CLIP (`model_type: clip`): byte-level BPE (`vocab.json` + `merges.txt`), a causal
    /// pre-LN transformer read at the first end-of-text token.
    case clip
    /// Chinese-CLIP (`model_type: chinese_clip`, transformers' `ChineseCLIPModel`): BERT WordPiece
    /// (`vocab.txt` + `tokenizer_config.json`), a bidirectional post-LN BERT/RoBERTa-wwm encoder
    /// read at `[CLS]`.
    case chineseCLIP(BertTextConfig)

    /// The tokenizer files a checkpoint directory of this family holds (for messages).
    public var tokenizerFiles: String {
        switch self {
        case .clip: return "vocab.json + merges.txt"
        case .chineseCLIP: return "vocab.txt"
        }
    }
}

/// The BERT-specific part of a Chinese-CLIP `text_config` (the shared shape is `CLIPConfig.text`).
public struct BertTextConfig: Sendable, Equatable {
    /// `type_vocab_size`: rows of `token_type_embeddings` (vdb, like the tokenizer, uses type 0).
    public var typeVocabSize: Int
    /// `pad_token_id` (0 in the released models): trailing ids equal to it are padding, masked
    /// out of attention as the tokenizer's `attention_mask` does.
    public var padTokenID: Int
}

extension CLIPConfig {
    /// A `chinese_clip` config.json, read as transformers 4.40's `ChineseCLIPConfig` reads it:
    /// `text_config` with `ChineseCLIPTextConfig` defaults (BERT-base: vocab 30522, 768 wide, 12
    /// layers, 12 heads, MLP 3072, `gelu`, eps 1e-12, 512 positions, 2 token types, pad id 0),
    /// `vision_config` with CLIP's ViT-B/32 defaults, `projection_dim` 512. Older configs carry
    /// `text_config_dict` / `vision_config_dict`; when present they win over `text_config` /
    /// `vision_config` entirely (their absent keys take the defaults, as in transformers).
    static func parseChineseCLIP(_ root: [String: Any], reader r: ConfigReader) throws -> CLIPConfig {
        func section(_ name: String) throws -> ([String: Any], String) {
            if let legacy = try r.object(root, "", name + "_dict") { return (legacy, name + "_dict.") }
            guard let d = try r.object(root, "", name) else {
                throw CLIPError.badConfig(file: r.file, field: name, problem: "missing")
            }
            return (d, name + ".")
        }
        let (text, tp) = try section("text_config")
        let (vision, _) = try section("vision_config")
        let positionType = try r.string(text, tp, "position_embedding_type", "absolute")
        guard positionType == "absolute" else {
            throw CLIPError.unsupported(what: "\(r.file): \(tp)position_embedding_type '\(positionType)' (vdb implements 'absolute')")
        }
        let t = try r.tower(text, tp, hidden: 768, inter: 3072, layers: 12, heads: 12, activation: "gelu", eps: 1e-12)
        let vocab = try r.int(text, tp, "vocab_size", 30522, max: 1 << 24)
        let pad = try r.int(text, tp, "pad_token_id", 0, min: 0, max: 1 << 24)
        guard pad < vocab else {
            throw CLIPError.badConfig(file: r.file, field: tp + "pad_token_id", problem: "\(pad) is not below vocab_size \(vocab)")
        }
        let bert = BertTextConfig(typeVocabSize: try r.int(text, tp, "type_vocab_size", 2), padTokenID: pad)
        // (messages name vision fields `vision_config.*`, also when they come from vision_config_dict)
        var config = try visionConfig(vision, reader: r, text: t, vocabSize: vocab,
                                      contextLength: try r.int(text, tp, "max_position_embeddings", 512),
                                      eosTokenID: 0, projectionDim: try r.int(root, "", "projection_dim", 512))
        config.family = .chineseCLIP(bert)
        return config
    }
}

extension CLIPPreprocessConfig {
    /// Chinese-CLIP's preprocessing (the original `cn_clip` transform and the released
    /// checkpoints' `ChineseCLIPImageProcessor` settings): bicubic resize straight to
    /// `size` x `size` (no aspect-preserving resize, no crop), CLIP's mean and std. Used when a
    /// Chinese-CLIP checkpoint has no `preprocessor_config.json`.
    public static func chineseCLIPDefaults(size: Int = 224) -> CLIPPreprocessConfig {
        CLIPPreprocessConfig(size: .exact(height: size, width: size), doCenterCrop: false, cropHeight: size, cropWidth: size)
    }
}
