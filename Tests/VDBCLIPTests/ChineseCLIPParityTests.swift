import Foundation
import Testing
@testable import VDBCLIP

/// Chinese-CLIP checkpoints (transformers' `ChineseCLIPModel` layout) against transformers 4.40
/// on random tiny checkpoints (Scripts/make_chinese_clip_fixtures.py): float16 with a default
/// config, float32 with a legacy `*_config_dict` config and extra tensors.
@Suite("Chinese-CLIP parity with transformers")
struct ChineseCLIPParityTests {
    static let tiny: CLIPModel = try! CLIPModel.load(directory: Fixtures.model("tiny-chinese-clip"), threads: 2)

    @Test(arguments: ["tiny-chinese-clip", "tiny-chinese-clip-f32"])
    func textImageAndLogits(name: String) throws {
        let model = name == "tiny-chinese-clip" ? Self.tiny : try CLIPModel.load(directory: Fixtures.model(name), threads: 2)
        let ref = try Fixtures.json(name + ".json")
        let captions = try #require(ref["captions"] as? [String])
        let ids = (ref["input_ids"] as! [Any]).map { Fixtures.ints($0) }
        #expect(try captions.map(model.tokenize) == ids)
        let t = try model.embed(texts: captions)
        #expect(t.count == captions.count)
        #expect(Fixtures.maxAbsDiff(t, Fixtures.matrix(ref["text_embeddings"])) <= 1e-4)
        // The padded ids give the same embeddings (trailing [PAD] is masked, as attention_mask does).
        #expect(Fixtures.maxAbsDiff(try model.embed(tokenIDs: ids), t) <= 1e-5)
        let i = try model.embed(pixels: Fixtures.pixels(ref))
        #expect(Fixtures.maxAbsDiff(i, Fixtures.matrix(ref["image_embeddings"])) <= 1e-4)
        #expect(Fixtures.maxAbsDiff(model.similarity(images: i, texts: t), Fixtures.matrix(ref["logits_per_image"])) <= 1e-3)
        #expect(Fixtures.maxAbsDiff(model.similarity(images: t, texts: i), Fixtures.matrix(ref["logits_per_text"])) <= 1e-3)
        #expect(abs(model.logitScale - Float((ref["logit_scale"] as! NSNumber).doubleValue)) < 1e-6)

        let labels = try #require(ref["classify_labels"] as? [String])
        let template = try #require(ref["classify_template"] as? String)
        #expect(template == "一张{}的照片")
        let probs = try Fixtures.pixels(ref).map { try model.classify(pixels: $0, labels: labels, template: template) }
        #expect(Fixtures.maxAbsDiff(probs, Fixtures.matrix(ref["classify_probs"])) <= 1e-4)
    }

    @Test func configAndDefaults() throws {
        let c = Self.tiny.config
        guard case .chineseCLIP(let bert) = c.family else { Issue.record("expected chinese_clip"); return }
        #expect(bert == BertTextConfig(typeVocabSize: 2, padTokenID: 0))
        // Keys absent from config.json take ChineseCLIPTextConfig's defaults.
        #expect(c.text.activation == .gelu && c.text.layerNormEps == 1e-12 && c.text.hiddenSize == 32)
        #expect(c.vision.activation == .quickGELU && c.imageSize == 32 && c.patchSize == 8 && c.projectionDim == 24)
        #expect(c.vocabSize == 1000 && c.contextLength == 64)
        let tok = try #require(Self.tiny.tokenizer as? BertTokenizer)
        #expect(tok.contextLength == 52 && tok.options.lowercase)
        let p = Self.tiny.preprocess
        #expect(p.size == .exact(height: 32, width: 32) && !p.doCenterCrop)

        let legacy = try CLIPModel.load(directory: Fixtures.model("tiny-chinese-clip-f32"), threads: 1)
        #expect(legacy.config.text.hiddenSize == 24 && legacy.config.text.layers == 3 && legacy.config.patchSize == 5)
        #expect(legacy.config.vision.activation == .gelu && legacy.config.contextLength == 20)
        #expect(legacy.config.family == .chineseCLIP(BertTextConfig(typeVocabSize: 1, padTokenID: 0)))
        let legacyTok = try #require(legacy.tokenizer as? BertTokenizer)
        #expect(legacyTok.contextLength == 16 && !legacyTok.options.lowercase)
        #expect(legacy.fingerprint != Self.tiny.fingerprint)
    }

    @Test func imageFileThroughChineseCLIPPreprocessing() throws {
        let ref = try Fixtures.json("tiny-chinese-clip.json")
        let entry = try #require(ref["image_file"] as? [String: Any])
        let file = try #require(entry["file"] as? String)
        let path = Fixtures.root.appendingPathComponent("clip-images").appendingPathComponent(file).path
        let pixels = try Self.tiny.pixels(for: .file(path))
        // 80x60 resized straight to 32x32: no crop.
        #expect(pixels.width == 32 && pixels.height == 32)
        #expect(Fixtures.maxAbsDiff([pixels.data], [Fixtures.floats(entry["pixel_values"])]) <= 0.035)
        let e = try Self.tiny.embed(images: [.file(path)])[0]
        #expect(CLIPModel.cosine(e, Fixtures.floats(entry["embedding"])) >= 0.9999)
        let probs = try Self.tiny.classify(image: .file(path), labels: ["猫", "狗"], template: "一张{}的照片")
        #expect(probs.count == 2 && abs(probs.reduce(0, +) - 1) < 1e-5)
    }

    @Test func batchesThreadsAndLengths() throws {
        let ref = try Fixtures.json("tiny-chinese-clip.json")
        let captions = try #require(ref["captions"] as? [String])
        let batch = try Self.tiny.embed(texts: captions)
        let single = try captions.map { try Self.tiny.embed(texts: [$0])[0] }
        #expect(Fixtures.maxAbsDiff(batch, single) <= 1e-5)
        let one = try CLIPModel.load(directory: Fixtures.model("tiny-chinese-clip"), threads: 1)
        #expect(Fixtures.maxAbsDiff(try one.embed(texts: captions), batch) <= 1e-5)
        // Unpadded ids, and ids padded to the tower's full 64 positions, give the same embedding.
        let tok = try #require(Self.tiny.tokenizer)
        let short = tok.encode("雪地上两只狗", pad: false)
        let long = short + [Int32](repeating: 0, count: 64 - short.count)
        let e = try Self.tiny.embed(tokenIDs: [short, long])
        #expect(Fixtures.maxAbsDiff([e[0]], [e[1]]) <= 1e-5)
        #expect(throws: CLIPError.self) { try Self.tiny.embed(tokenIDs: [[Int32](repeating: 101, count: 65)]) }
        #expect(throws: CLIPError.self) { try Self.tiny.embed(tokenIDs: [[101, 1000, 102]]) }
    }
}

/// Malformed Chinese-CLIP checkpoints fail with an error naming the problem.
@Suite("Chinese-CLIP checkpoint errors")
struct ChineseCLIPLoaderErrorTests {
    func loadError(_ dir: URL) -> CLIPError? {
        LoaderErrorTests().loadError(dir)
    }

    @Test func textTowerTensorsAndConfigAreChecked() throws {
        let s = try LoaderErrorTests.Scratch("tiny-chinese-clip")
        #expect(loadError(s.dir) == nil)
        try s.editHeader { $0.removeValue(forKey: "text_model.encoder.layer.1.attention.output.LayerNorm.bias") }
        #expect(loadError(s.dir) == .missingTensor(name: "text_model.encoder.layer.1.attention.output.LayerNorm.bias"))

        let c = try LoaderErrorTests.Scratch("tiny-chinese-clip")
        try c.editTextConfig { t in
            t["position_embedding_type"] = "relative_key"
        }
        guard case .unsupported(let what)? = loadError(c.dir) else { Issue.record("expected unsupported"); return }
        #expect(what.contains("relative_key"))
        try c.editTextConfig { t in
            t["position_embedding_type"] = "absolute"
            t["type_vocab_size"] = 3  // the weights have 2 rows
        }
        #expect(loadError(c.dir) == .tensorShape(name: "text_model.embeddings.token_type_embeddings.weight",
                                                  expected: [3, 32], found: [2, 32]))
        try c.editTextConfig { t in
            t["type_vocab_size"] = 2
            t["pad_token_id"] = 1000
        }
        guard case .badConfig(_, "text_config.pad_token_id", _)? = loadError(c.dir) else { Issue.record("expected badConfig"); return }
        try c.editConfig { root in root.removeValue(forKey: "text_config") }
        guard case .badConfig(_, "text_config", "missing")? = loadError(c.dir) else { Issue.record("expected missing"); return }
    }

    @Test func tokenizerFilesAreChecked() throws {
        let s = try LoaderErrorTests.Scratch("tiny-chinese-clip")
        // A vocabulary larger than the model's vocab_size cannot be used with it.
        let vocab = s.dir.appendingPathComponent("vocab.txt")
        var text = try String(contentsOf: vocab, encoding: .utf8)
        text += "extra1\nextra2\n"
        try text.write(to: vocab, atomically: true, encoding: .utf8)
        guard case .badTokenizer? = loadError(s.dir) else { Issue.record("expected badTokenizer"); return }
        // Without vocab.txt the model loads, embeds ids and images, and says what is missing for text.
        try FileManager.default.removeItem(at: vocab)
        let model = try CLIPModel.load(directory: s.dir, threads: 1)
        #expect(model.tokenizer == nil)
        #expect(throws: CLIPError.self) { try model.embed(texts: ["猫"]) }
        do { _ = try model.tokenize("猫") } catch { #expect("\(error)".contains("vocab.txt")) }
        #expect(try model.embed(tokenIDs: [[101, 102]]).count == 1)
    }
}
