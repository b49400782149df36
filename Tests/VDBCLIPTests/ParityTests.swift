import Foundation
import Testing
@testable import VDBCLIP

/// Embeddings and logits against `transformers` 4.40 on random tiny checkpoints
/// (float16, bfloat16 and float32 storage; quick_gelu and gelu; both pooling rules).
@Suite("CLIP tower parity with transformers")
struct ParityTests {
    static let tiny: CLIPModel = try! CLIPModel.load(directory: Fixtures.model("tiny-clip"), threads: 2)

    @Test func textEmbeddingsOfHardCaptions() throws {
        let ref = try Fixtures.json("tiny-clip.json")
        let captions = try #require(ref["captions"] as? [String])
        let got = try Self.tiny.embed(texts: captions)
        let want = Fixtures.matrix(ref["text_embeddings"])
        #expect(want.count == captions.count)
        #expect(Fixtures.maxAbsDiff(got, want) <= 1e-4)
    }

    @Test func imageEmbeddingsFromPixelValues() throws {
        let ref = try Fixtures.json("tiny-clip.json")
        let got = try Self.tiny.embed(pixels: Fixtures.pixels(ref))
        let want = Fixtures.matrix(ref["image_embeddings"])
        #expect(want.count == 3)
        #expect(Fixtures.maxAbsDiff(got, want) <= 1e-4)
    }

    @Test func logitsAndClassify() throws {
        let ref = try Fixtures.json("tiny-clip.json")
        let texts = try #require(ref["pair_texts"] as? [String])
        let t = try Self.tiny.embed(texts: texts)
        #expect(Fixtures.maxAbsDiff(t, Fixtures.matrix(ref["pair_text_embeddings"])) <= 1e-4)
        let i = try Self.tiny.embed(pixels: Fixtures.pixels(ref))
        let perImage = Self.tiny.similarity(images: i, texts: t)
        #expect(Fixtures.maxAbsDiff(perImage, Fixtures.matrix(ref["logits_per_image"])) <= 1e-3)
        let perText = Self.tiny.similarity(images: t, texts: i)
        #expect(Fixtures.maxAbsDiff(perText, Fixtures.matrix(ref["logits_per_text"])) <= 1e-3)
        #expect(abs(Self.tiny.logitScale - Float((ref["logit_scale"] as! NSNumber).doubleValue)) < 1e-6)

        let labels = try #require(ref["classify_labels"] as? [String])
        let template = try #require(ref["classify_template"] as? String)
        let probs = try Fixtures.pixels(ref).map { try Self.tiny.classify(pixels: $0, labels: labels, template: template) }
        #expect(Fixtures.maxAbsDiff(probs, Fixtures.matrix(ref["classify_probs"])) <= 1e-4)
        for p in probs { #expect(abs(p.reduce(0, +) - 1) < 1e-5) }
    }

    @Test func singleThreadMatchesMultiThread() throws {
        let one = try CLIPModel.load(directory: Fixtures.model("tiny-clip"), threads: 1)
        let ref = try Fixtures.json("tiny-clip.json")
        let a = try one.embed(pixels: Fixtures.pixels(ref)), b = try Self.tiny.embed(pixels: Fixtures.pixels(ref))
        #expect(a == b, "every sum runs in the same order whatever the thread count")
        let captions = try #require(ref["captions"] as? [String])
        #expect(try one.embed(texts: captions) == Self.tiny.embed(texts: captions))
        #expect(one.fingerprint == Self.tiny.fingerprint)
        #expect(one.fingerprint.count == 64)
    }

    /// The opt-in bfloat16 products stay close to transformers' float32 embeddings (the cost on
    /// ViT-B/32-sized towers is measured in Docs/benchmarks-clip.md).
    @Test func bfloat16ProductsStayCloseToFloat32() throws {
        let bf = try CLIPModel.load(directory: Fixtures.model("tiny-clip"), threads: 2, precision: .bfloat16)
        #expect(bf.precision == .bfloat16 && Self.tiny.precision == .float32)
        #expect(bf.fingerprint == Self.tiny.fingerprint, "same checkpoint, same fingerprint")
        let ref = try Fixtures.json("tiny-clip.json")
        let captions = try #require(ref["captions"] as? [String])
        let pairs = [(try bf.embed(texts: captions), Fixtures.matrix(ref["text_embeddings"])),
                     (try bf.embed(pixels: Fixtures.pixels(ref)), Fixtures.matrix(ref["image_embeddings"]))]
        for (got, want) in pairs {
            #expect(got.count == want.count)
            #expect(Fixtures.maxAbsDiff(got, want) > 1e-6, "bfloat16 really rounds")
            for (g, w) in zip(got, want) { #expect(CLIPModel.cosine(g, w) >= 0.999) }
        }
    }

    @Test(arguments: ["tiny-clip-bf16", "tiny-clip-f32-gelu"])
    func otherDTypesAndActivations(name: String) throws {
        let model = try CLIPModel.load(directory: Fixtures.model(name))
        #expect(model.tokenizer == nil)
        let ref = try Fixtures.json(name + ".json")
        let ids = (ref["input_ids"] as! [Any]).map { Fixtures.ints($0) }
        let t = try model.embed(tokenIDs: ids)
        #expect(Fixtures.maxAbsDiff(t, Fixtures.matrix(ref["text_embeddings"])) <= 1e-4)
        let i = try model.embed(pixels: Fixtures.pixels(ref))
        #expect(Fixtures.maxAbsDiff(i, Fixtures.matrix(ref["image_embeddings"])) <= 1e-4)
        #expect(Fixtures.maxAbsDiff(model.similarity(images: i, texts: t), Fixtures.matrix(ref["logits_per_image"])) <= 1e-3)
        #expect(model.fingerprint != Self.tiny.fingerprint)
    }

    @Test func configAndPreprocessing() {
        let c = Self.tiny.config
        #expect(c.imageSize == 32 && c.patchSize == 8 && c.projectionDim == 24 && c.contextLength == 77)
        #expect(c.vision.hiddenSize == 64 && c.vision.heads == 4 && c.text.hiddenSize == 32 && c.text.layers == 2)
        #expect(c.eosTokenID == 49407 && c.vision.activation == .quickGELU)
        let p = Self.tiny.preprocess
        #expect(p.shortestEdge == 32 && p.cropHeight == 32 && p.cropWidth == 32 && p.resample == 3)
        #expect(p.mean == [0.48145466, 0.4578275, 0.40821073] && p.std == [0.26862954, 0.26130258, 0.27577711])
    }

    @Test func badInputsAreRejected() throws {
        #expect(throws: CLIPError.self) { try Self.tiny.embed(pixels: [PixelTensor(width: 31, height: 32, data: [])]) }
        #expect(throws: CLIPError.self) { try Self.tiny.embed(tokenIDs: [[49406, 60000]]) }
        #expect(throws: CLIPError.self) { try Self.tiny.embed(tokenIDs: [[Int32]](repeating: [1], count: 1).map { $0 + [Int32](repeating: 1, count: 80) }) }
        #expect(try Self.tiny.embed(texts: []).isEmpty)
    }
}

@Suite("CLIP model shared across threads")
struct ConcurrencyTests {
    @Test func concurrentEmbedsMatchSerial() async throws {
        let model = ParityTests.tiny
        let ref = try Fixtures.json("tiny-clip.json")
        let captions = try #require(ref["captions"] as? [String])
        let pixels = Fixtures.pixels(ref)
        let serialText = try model.embed(texts: captions)
        let serialImage = try model.embed(pixels: pixels)
        try await withThrowingTaskGroup(of: (Float, Float).self) { group in
            for k in 0..<6 {
                group.addTask {
                    let t = try model.embed(texts: Array(captions.shuffled().prefix(10 + k)))
                    _ = t
                    let all = try model.embed(texts: captions)
                    let img = try model.embed(pixels: pixels)
                    return (Fixtures.maxAbsDiff(all, serialText), Fixtures.maxAbsDiff(img, serialImage))
                }
            }
            for try await (dt, di) in group {
                #expect(dt <= 1e-5)
                #expect(di <= 1e-5)
            }
        }
    }
}

@Suite("CLIP batching")
struct BatchingTests {
    /// Every item of a batch (images: 11 tensors, more than one chunk of work per thread) equals
    /// the item embedded alone.
    @Test func batchEqualsSingles() throws {
        let model = ParityTests.tiny
        let ref = try Fixtures.json("tiny-clip.json")
        let base = Fixtures.pixels(ref)
        let pixels = (0..<11).map { i in
            PixelTensor(width: 32, height: 32, data: base[i % 3].data.map { $0 * (1 + Float(i) * 0.05) })
        }
        let batch = try model.embed(pixels: pixels)
        for (i, p) in pixels.enumerated() {
            #expect(Fixtures.maxAbsDiff([try model.embed(pixels: [p])[0]], [batch[i]]) <= 1e-5, "image \(i)")
        }
        let captions = try #require(ref["captions"] as? [String])
        let texts = try model.embed(texts: captions)
        for (i, c) in captions.enumerated() {
            #expect(Fixtures.maxAbsDiff([try model.embed(texts: [c])[0]], [texts[i]]) <= 1e-5, "text \(i)")
        }
    }
}
