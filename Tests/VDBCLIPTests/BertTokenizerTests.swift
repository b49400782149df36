import Foundation
import Testing
@testable import VDBCLIP

/// The WordPiece tokenizer on the real 21,128-token Chinese-CLIP vocabulary against
/// BertTokenizerFast / BertTokenizer (references from Scripts/make_chinese_clip_fixtures.py).
@Suite("Chinese-CLIP tokenizer parity with HF BertTokenizerFast")
struct BertTokenizerTests {
    static let vocabDir = Fixtures.root.appendingPathComponent("chinese-vocab")
    static let tokenizer: BertTokenizer = try! BertTokenizer(directory: vocabDir)
    static let vocabLines: [[UInt8]] = BertTokenizer.lines(try! Data(contentsOf: vocabDir.appendingPathComponent("vocab.txt")))

    static func cases(_ any: Any?) throws -> [(text: String, ids: [Int32], full: [Int32])] {
        let list = try #require(any as? [[String: Any]])
        return try list.map { (try #require($0["text"] as? String), Fixtures.ints($0["ids"]), Fixtures.ints($0["full"])) }
    }

    @Test func realVocabularyBasics() {
        let t = Self.tokenizer
        #expect(t.vocabularySize == 21128)
        #expect(t.contextLength == 52)  // no tokenizer_config.json: Chinese-CLIP's context
        #expect((t.clsToken, t.sepToken, t.padToken, t.unkToken) == (101, 102, 0, 100))
        #expect(t.encode("一只猫", pad: false) == [101, 671, 1372, 4344, 102])
        #expect(t.encode("一只猫").count == 52)
        #expect(t.encode("").prefix(3) == [101, 102, 0])
    }

    @Test func hardSetMatchesFastAndSlow() throws {
        let ref = try Fixtures.json("chinese-tokens.json")
        #expect(ref["context_length"] as? Int == 52)
        let cases = try Self.cases(ref["cases"])
        #expect(cases.count >= 40)
        for c in cases {
            #expect(Self.tokenizer.encode(c.text) == c.ids, "\(c.text.debugDescription)")
            #expect([101] + Self.tokenizer.tokens(c.text) + [102] == c.full, "\(c.text.debugDescription) untruncated")
        }
        // The long inputs really are truncated, keeping [SEP].
        let long = try #require(cases.first { $0.full.count > 52 })
        #expect(Self.tokenizer.encode(long.text).last == 102)
    }

    @Test func followsTheFastTokenizerWhereTheSlowOneDiffers() throws {
        let ref = try Fixtures.json("chinese-tokens.json")
        let cases = try Self.cases(ref["fast_only"])
        #expect(!cases.isEmpty)
        for c in cases { #expect(Self.tokenizer.encode(c.text) == c.ids, "\(c.text.debugDescription)") }
    }

    @Test func otherTokenizerOptions() throws {
        let ref = try Fixtures.json("chinese-tokens.json")
        let variants = try #require(ref["variants"] as? [[String: Any]])
        #expect(variants.count == 4)
        for v in variants {
            let o = try #require(v["options"] as? [String: Any])
            let options = BertTokenizer.Options(lowercase: (o["do_lower_case"] as? Bool) ?? true,
                                                stripAccents: o["strip_accents"] as? Bool,
                                                tokenizeChineseChars: (o["tokenize_chinese_chars"] as? Bool) ?? true)
            let tok = try BertTokenizer(vocabulary: Self.vocabLines, options: options)
            for c in try Self.cases(v["cases"]) {
                #expect(tok.encode(c.text) == c.ids, "\(o) \(c.text.debugDescription)")
            }
        }
    }

    @Test func tokenizerConfigIsRead() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-bert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("[PAD]\n[UNK]\n[CLS]\n[SEP]\ncafé\n猫\n##s\nA\n".utf8).write(to: dir.appendingPathComponent("vocab.txt"))
        let config = dir.appendingPathComponent("tokenizer_config.json")
        func load(_ json: String, maxPositions: Int = 512) throws -> BertTokenizer {
            try Data(json.utf8).write(to: config)
            return try BertTokenizer(directory: dir, maxPositions: maxPositions)
        }
        var t = try load(#"{"do_lower_case": false, "model_max_length": 5}"#)
        #expect(t.contextLength == 5 && t.options.lowercase == false)
        #expect(t.encode("A 猫猫 café", pad: false) == [2, 7, 5, 5, 3])  // truncated to 5, [SEP] kept
        #expect(t.encode("Cafe\u{301}", pad: false) == [2, 1, 3])      // no lowercase, accents kept
        #expect(t.vocabularySize == 8)
        // transformers writes "no limit" as 1e30: the tower's positions bound it.
        t = try load(#"{"model_max_length": 1e30}"#, maxPositions: 20)
        #expect(t.contextLength == 20)
        t = try load(#"{"strip_accents": false, "unk_token": {"content": "[UNK]"}}"#)
        #expect(t.contextLength == 52 && t.encode("café cafés", pad: false) == [2, 4, 4, 6, 3])
        #expect(throws: CLIPError.self) { try load(#"{"do_lower_case": "yes"}"#) }
        #expect(throws: CLIPError.self) { try load(#"{"model_max_length": 1}"#) }
        #expect(throws: CLIPError.self) { try load(#"{"cls_token": "<s>"}"#) }  // not in the vocabulary
    }

    @Test func vocabularyFileEdgeCases() throws {
        // A "\r" stays part of its entry (transformers strips only "\n"); repeated entries keep the last id.
        let lines = BertTokenizer.lines(Data("[PAD]\n[UNK]\n[CLS]\n[SEP]\nab\r\nab\nc".utf8))
        #expect(lines.count == 7 && lines[4] == Array("ab\r".utf8))
        let t = try BertTokenizer(vocabulary: lines)
        #expect(t.tokens("ab c") == [5, 6])
        #expect(t.tokens(String(repeating: "c", count: 101)) == [1])  // over 100 characters: [UNK]
        #expect(t.tokens("abab") == [1])  // no "##ab": the whole word is [UNK]
        #expect(throws: CLIPError.self) { try BertTokenizer(vocabulary: [Array("[PAD]".utf8)]) }
        #expect(throws: CLIPError.self) { try BertTokenizer(vocabulary: lines, contextLength: 1) }
        #expect(throws: CLIPError.self) { try BertTokenizer(directory: URL(fileURLWithPath: "/nonexistent")) }
    }

    /// Vocabulary entries are compared by code points: a decomposed "é" is not the precomposed one
    /// (Swift's String equality would say it is).
    @Test func entriesAreComparedByCodePoints() throws {
        let lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "caf\u{E9}"].map { Array($0.utf8) }
        let t = try BertTokenizer(vocabulary: lines, options: .init(lowercase: false))
        #expect(t.tokens("caf\u{E9}") == [4])
        #expect(t.tokens("cafe\u{301}") == [1])
    }
}
