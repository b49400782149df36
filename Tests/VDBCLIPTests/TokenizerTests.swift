import Foundation
import Testing
@testable import VDBCLIP

@Suite("CLIP tokenizer parity with HF CLIPTokenizerFast")
struct TokenizerTests {
    static let tokenizer: CLIPTokenizer = {
        let dir = Fixtures.model("tiny-clip")
        return try! CLIPTokenizer(vocabURL: dir.appendingPathComponent("vocab.json"),
                                  mergesURL: dir.appendingPathComponent("merges.txt"))
    }()

    @Test func aPhotoOfACat() {
        #expect(Self.tokenizer.encode("a photo of a cat", pad: false) == [49406, 320, 1125, 539, 320, 2368, 49407])
        #expect(Self.tokenizer.vocabularySize == 49408)
    }

    @Test func allReferenceCaptionsMatch() throws {
        let ref = try Fixtures.json("tokens.json")
        let captions = try #require(ref["captions"] as? [[String: Any]])
        #expect(captions.count >= 20)
        for c in captions {
            let text = try #require(c["text"] as? String)
            let expected = Fixtures.ints(c["ids"])
            let got = Self.tokenizer.encode(text)
            #expect(got == expected, "caption \(text.debugDescription)")
            #expect(got.count == 77)
        }
    }

    @Test func truncationKeepsEndToken() {
        let ids = Self.tokenizer.encode(String(repeating: "cat ", count: 200))
        #expect(ids.count == 77)
        #expect(ids.first == 49406)
        #expect(ids.last == 49407)
        #expect(ids[75] == ids[1])
    }

    @Test func specialTokensAndNormalization() {
        // literal special tokens (matched after lowercasing, as HF does with normalized added tokens)
        #expect(Self.tokenizer.encode("<|ENDOFTEXT|>", pad: false) == [49406, 49407, 49407])
        #expect(Self.tokenizer.encode("hello<|endoftext|>world", pad: false) == [49406, 3306, 49407, 1002, 49407])
        // NBSP, ideographic space and NEL are whitespace; U+200B is not
        #expect(Self.tokenizer.encode("x\u{a0}y\u{3000}z\u{200b}w\u{85}v", pad: false) == [49406, 343, 344, 345, 9844, 342, 341, 49407])
        // per-character lowercase without a final-sigma rule, full mappings (İ -> i + U+0307)
        #expect(Self.tokenizer.encode("ǅ ﬃ İstanbul ΣΑΣ", pad: false)
                == [49406, 131, 484, 171, 105, 481, 328, 16384, 11231, 139, 225, 138, 109, 139, 481, 49407])
        #expect(Self.tokenizer.encode("", pad: false) == [49406, 49407])
    }
}
