import Foundation

/// BERT's WordPiece tokenizer as Chinese-CLIP uses it, producing the same ids as Hugging Face's
/// `BertTokenizerFast` (and, on everything but the rare cases listed in Docs/clip.md, the slow
/// `BertTokenizer`) built from the checkpoint's `vocab.txt` and `tokenizer_config.json`.
///
/// Pipeline, in the fast tokenizer's order:
/// 1. Special tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`) written literally in the raw
///    text become their ids (case-sensitive: `[cls]` is ordinary text).
/// 2. Clean: U+0000, U+FFFD and control/format/private-use/unassigned code points (Unicode
///    category C*, except tab, newline and carriage return) are dropped; whitespace (Unicode
///    `White_Space`) becomes a space.
/// 3. Each CJK ideograph gets spaces around it, so it is a word of its own
///    (`tokenize_chinese_chars`).
/// 4. Strip accents (NFD, then drop non-spacing marks) when `strip_accents` is true, or when it
///    is unset and `do_lower_case` is true; then lowercase each code point (`do_lower_case`).
/// 5. Split into words at whitespace; every punctuation character (ASCII punctuation and symbols,
///    Unicode category P*, full-width forms included) is a word of its own.
/// 6. WordPiece per word: greedy longest match from the left, continuations prefixed `##`; a
///    word with a piece not in the vocabulary, or longer than 100 characters, is one `[UNK]`.
/// 7. `[CLS]` ... `[SEP]`, truncated to `contextLength` (keeping `[SEP]`), padded with `[PAD]`.
///
/// Immutable after construction, so safe to use from several threads.
final class BertTokenizer: TextTokenizer {
    /// The normalization switches of `tokenizer_config.json`.
    struct Options: Sendable, Equatable {
        /// `do_lower_case` (default true, as in the released Chinese-CLIP checkpoints).
        var lowercase: Bool
        /// `strip_accents`; nil (the default) strips them exactly when `lowercase` is on.
        var stripAccents: Bool?
        /// `tokenize_chinese_chars` (default true): every CJK ideograph is its own word.
        var tokenizeChineseChars: Bool
        /// Longer words become `[UNK]` (`max_input_chars_per_word`, 100).
        var maxInputCharsPerWord: Int

        init(lowercase: Bool = true, stripAccents: Bool? = nil, tokenizeChineseChars: Bool = true,
                    maxInputCharsPerWord: Int = 100) {
            self.lowercase = lowercase
            self.stripAccents = stripAccents
            self.tokenizeChineseChars = tokenizeChineseChars
            self.maxInputCharsPerWord = maxInputCharsPerWord
        }
    }

    /// Special-token spellings (`tokenizer_config.json`'s `cls_token`, ... ; BERT's by default).
    struct SpecialTokens: Sendable, Equatable {
        var cls = "[CLS]", sep = "[SEP]", pad = "[PAD]", unk = "[UNK]", mask = "[MASK]"
        init() {}
    }

    /// The context when `tokenizer_config.json` gives no `model_max_length`: Chinese-CLIP's 52.
    static let defaultContextLength = 52

    let options: Options
    let contextLength: Int
    let clsToken: Int32
    let sepToken: Int32
    let padToken: Int32
    let unkToken: Int32
    /// Lines in `vocab.txt` (ids are line numbers).
    let vocabularySize: Int

    /// UTF-8 bytes of each entry -> id. Keyed by bytes, not `String`, because Swift compares
    /// strings by canonical equivalence and the reference tokenizers compare code points.
    private let vocab: [[UInt8]: Int32]
    /// Special tokens matched literally in the raw text, longest first.
    private let specials: [(scalars: [Unicode.Scalar], id: Int32)]

    /// Loads `vocab.txt` and (if present) `tokenizer_config.json` from a checkpoint directory.
    ///
    /// The context is `model_max_length` from `tokenizer_config.json` (52 when absent), at most
    /// `maxPositions` (the text tower's `max_position_embeddings`).
    /// - Throws: `CLIPError.missingFile`, `.badTokenizer` (empty vocabulary, special token missing
    ///   from it) or `.badConfig` (a `tokenizer_config.json` field of the wrong type).
    convenience init(directory: URL, maxPositions: Int = 512) throws {
        let vocabURL = directory.appendingPathComponent("vocab.txt")
        guard let data = FileManager.default.contents(atPath: vocabURL.path) else {
            throw CLIPError.missingFile(path: vocabURL.path, hint: "the WordPiece vocabulary (vocab.txt) is needed to tokenize text")
        }
        var options = Options(), specials = SpecialTokens(), context = Self.defaultContextLength
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        if let configData = FileManager.default.contents(atPath: configURL.path) {
            let r = ConfigReader(file: configURL.path)
            let root = try r.root(configData)
            options.lowercase = try r.bool(root, "", "do_lower_case") ?? true
            options.stripAccents = try r.bool(root, "", "strip_accents")
            options.tokenizeChineseChars = try r.bool(root, "", "tokenize_chinese_chars") ?? true
            // Saved configs write "no limit" as 1e30, so read a double before clamping.
            let limit = try r.float(root, "", "model_max_length", Double(Self.defaultContextLength))
            guard limit >= 2 else {
                throw CLIPError.badConfig(file: configURL.path, field: "model_max_length",
                                          problem: "\(limit) leaves no room for [CLS] and [SEP]")
            }
            context = limit >= Double(maxPositions) ? maxPositions : Int(limit)
            func special(_ key: String, _ def: String) throws -> String {
                if let o = try? r.object(root, "", key) { return try r.string(o, key + ".", "content", def) }
                return try r.string(root, "", key, def)
            }
            specials.cls = try special("cls_token", specials.cls)
            specials.sep = try special("sep_token", specials.sep)
            specials.pad = try special("pad_token", specials.pad)
            specials.unk = try special("unk_token", specials.unk)
            specials.mask = try special("mask_token", specials.mask)
        }
        try self.init(vocabulary: Self.lines(data), options: options, specialTokens: specials,
                      contextLength: min(context, maxPositions), source: vocabURL.path)
    }

    /// Builds a tokenizer from vocabulary entries (id = index; a repeated entry keeps its last id,
    /// as in `transformers`).
    /// - Throws: `CLIPError.badTokenizer` when the vocabulary is empty, lacks `[CLS]`, `[SEP]`,
    ///   `[PAD]` or `[UNK]`, or the context cannot hold `[CLS]` and `[SEP]`.
    init(vocabulary: [[UInt8]], options: Options = Options(), specialTokens: SpecialTokens = SpecialTokens(),
                contextLength: Int = BertTokenizer.defaultContextLength, source: String = "vocab.txt") throws {
        guard !vocabulary.isEmpty, vocabulary.count <= Int(Int32.max) else {
            throw CLIPError.badTokenizer(file: source, problem: "the vocabulary has \(vocabulary.count) entries")
        }
        guard contextLength >= 2 else {
            throw CLIPError.badTokenizer(file: source, problem: "context length \(contextLength) leaves no room for [CLS] and [SEP]")
        }
        var vocab: [[UInt8]: Int32] = [:]
        vocab.reserveCapacity(vocabulary.count)
        for (i, entry) in vocabulary.enumerated() { vocab[entry] = Int32(i) }
        func id(_ token: String) throws -> Int32 {
            guard let id = vocab[Array(token.utf8)] else {
                throw CLIPError.badTokenizer(file: source, problem: "the vocabulary lacks the special token '\(token)'")
            }
            return id
        }
        clsToken = try id(specialTokens.cls)
        sepToken = try id(specialTokens.sep)
        padToken = try id(specialTokens.pad)
        unkToken = try id(specialTokens.unk)
        var specials = [(specialTokens.cls, clsToken), (specialTokens.sep, sepToken), (specialTokens.pad, padToken),
                        (specialTokens.unk, unkToken)]
        if let mask = vocab[Array(specialTokens.mask.utf8)] { specials.append((specialTokens.mask, mask)) }
        self.specials = specials.filter { !$0.0.isEmpty }.map { (Array($0.0.unicodeScalars), $0.1) }
            .sorted { $0.scalars.count > $1.scalars.count }
        self.vocab = vocab
        self.vocabularySize = vocabulary.count
        self.options = options
        self.contextLength = contextLength
    }

    /// `vocab.txt` entries: the file split at "\n" (only: a "\r" stays part of its entry, as in
    /// `transformers`), without the empty piece after a final newline.
    static func lines(_ data: Data) -> [[UInt8]] {
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    func encode(_ text: String, pad: Bool) -> [Int32] {
        var body = tokens(text)
        if body.count > contextLength - 2 { body.removeLast(body.count - (contextLength - 2)) }
        var ids = [clsToken]
        ids.reserveCapacity(pad ? contextLength : body.count + 2)
        ids += body
        ids.append(sepToken)
        if pad, ids.count < contextLength { ids += [Int32](repeating: padToken, count: contextLength - ids.count) }
        return ids
    }

    func tokens(_ text: String) -> [Int32] {
        let scalars = Array(text.unicodeScalars)
        var out: [Int32] = []
        var i = 0, segment = 0
        while i < scalars.count {
            if let hit = specials.first(where: { i + $0.scalars.count <= scalars.count
                && scalars[i..<(i + $0.scalars.count)].elementsEqual($0.scalars) }) {
                encodeSegment(scalars[segment..<i], into: &out)
                out.append(hit.id)
                i += hit.scalars.count
                segment = i
            } else {
                i += 1
            }
        }
        encodeSegment(scalars[segment...], into: &out)
        return out
    }

    // MARK: normalization and splitting

    /// Steps 2-6 on text between special tokens.
    private func encodeSegment(_ text: ArraySlice<Unicode.Scalar>, into out: inout [Int32]) {
        guard !text.isEmpty else { return }
        var s: [Unicode.Scalar] = []
        s.reserveCapacity(text.count)
        for c in text {
            if c.value == 0 || c.value == 0xFFFD || Self.isControl(c) { continue }
            if Self.isWhitespace(c) {
                s.append(" ")
            } else if options.tokenizeChineseChars && Self.isChineseChar(c.value) {
                s += [" ", c, " "]
            } else {
                s.append(c)
            }
        }
        if options.stripAccents ?? options.lowercase {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: s)
            s = String(view).decomposedStringWithCanonicalMapping.unicodeScalars
                .filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if options.lowercase {
            var lower: [Unicode.Scalar] = []
            lower.reserveCapacity(s.count)
            for c in s {
                if c.isASCII {
                    lower.append(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(UInt8(c.value + 32)) : c)
                } else if c.properties.changesWhenLowercased {
                    lower += c.properties.lowercaseMapping.unicodeScalars
                } else {
                    lower.append(c)
                }
            }
            s = lower
        }
        var start = 0
        for (k, c) in s.enumerated() {
            if c.properties.isWhitespace {
                wordPiece(s[start..<k], into: &out)
                start = k + 1
            } else if Self.isPunctuation(c) {
                wordPiece(s[start..<k], into: &out)
                wordPiece(s[k...k], into: &out)
                start = k + 1
            }
        }
        wordPiece(s[start...], into: &out)
    }

    /// Greedy longest-match-first WordPiece of one word.
    private func wordPiece(_ word: ArraySlice<Unicode.Scalar>, into out: inout [Int32]) {
        guard !word.isEmpty else { return }
        guard word.count <= options.maxInputCharsPerWord else { out.append(unkToken); return }
        var bytes: [UInt8] = [], offsets = [0]
        for c in word {
            UTF8.encode(c) { bytes.append($0) }
            offsets.append(bytes.count)
        }
        let n = word.count
        var pieces: [Int32] = [], start = 0
        while start < n {
            var end = n, found: Int32? = nil
            while end > start {
                let key = (start > 0 ? [0x23, 0x23] : []) + bytes[offsets[start]..<offsets[end]]
                if let id = vocab[key] { found = id; break }
                end -= 1
            }
            guard let id = found else { out.append(unkToken); return }
            pieces.append(id)
            start = end
        }
        out += pieces
    }

    /// Category C* (control, format, surrogate, private use, unassigned), but not tab, newline
    /// or carriage return, which count as whitespace.
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\r" || c.properties.isWhitespace
    }

    /// ASCII punctuation and symbols (`!`..`/`, `:`..`@`, `[`..`` ` ``, `{`..`~`) or Unicode
    /// category P*.
    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// The CJK ideograph blocks of `tokenizers`' BertNormalizer. (The slow Python tokenizer starts
    /// its Extension E range at U+2B820; the Rust one, which vdb follows, at U+2B920.)
    static func isChineseChar(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
