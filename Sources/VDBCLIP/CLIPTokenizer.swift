import Foundation
import Synchronization

/// CLIP's byte-level BPE tokenizer, producing the same ids as Hugging Face's `CLIPTokenizerFast`
/// (the `tokenizer.json` that `transformers` derives from `vocab.json` + `merges.txt`).
///
/// Pipeline, in HF's order:
/// 1. Normalize: Unicode NFC, every run of whitespace (Unicode `White_Space`) becomes one space,
///    lowercase (per-scalar full lowercase mapping; no final-sigma rule, like Rust's `char::to_lowercase`).
/// 2. Special tokens: `<|startoftext|>` and `<|endoftext|>` anywhere in the *normalized* text
///    (so also `<|ENDOFTEXT|>`) become their ids 49406 / 49407.
/// 3. Split the rest with CLIP's pattern `'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`
///    (whitespace is dropped).
/// 4. Map each word's UTF-8 bytes to GPT-2's byte alphabet, mark the last symbol with `</w>`,
///    apply merges by rank (lowest first, leftmost on ties), look the symbols up in `vocab.json`.
/// 5. Add `<|startoftext|>` ... `<|endoftext|>`; truncate to the context length keeping the end
///    token (start + first `context - 2` tokens + end); pad with `<|endoftext|>` (HF's pad token).
///
/// Unlike OpenAI's `clip.tokenize`, no `ftfy.fix_text` and no `html.unescape` run first: `&amp;`
/// stays the four characters `&`, `amp`, `;`, mojibake stays mojibake, and curly quotes,
/// ligatures and full-width letters are tokenized as they are. See Docs/clip.md.
///
/// Thread-safe: the word cache is behind a mutex.
final class CLIPTokenizer: Sendable {
    let startToken: Int32
    let endToken: Int32
    /// Padding id (HF pads CLIP with `<|endoftext|>`).
    let padToken: Int32
    let contextLength: Int
    var vocabularySize: Int { vocab.count }

    private let vocab: [String: Int32]
    /// (left id, right id) -> (rank, merged id)
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    private let byteSymbolIDs: [Int32]      // byte -> id of its symbol
    private let byteEndSymbolIDs: [Int32]   // byte -> id of symbol + "</w>"
    private let cache = LockedCache()

    /// GPT-2's reversible byte -> printable unicode mapping.
    static let byteEncoder: [Character] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b); cs.append(256 + n); n += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return table
    }()

    /// Loads `vocab.json` and `merges.txt`.
    convenience init(vocabURL: URL, mergesURL: URL, contextLength: Int = 77) throws {
        let vocabData: Data, mergesText: String
        do { vocabData = try Data(contentsOf: vocabURL) } catch {
            throw CLIPError.missingFile(path: vocabURL.path, hint: "the CLIP vocabulary (vocab.json) is needed to tokenize text")
        }
        do { mergesText = try String(contentsOf: mergesURL, encoding: .utf8) } catch {
            throw CLIPError.missingFile(path: mergesURL.path, hint: "the CLIP BPE merges (merges.txt) are needed to tokenize text")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: vocabData), let dict = obj as? [String: Any] else {
            throw CLIPError.badTokenizer(file: vocabURL.path, problem: "not a JSON object of token -> id")
        }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(dict.count)
        for (k, v) in dict {
            guard let n = v as? NSNumber else {
                throw CLIPError.badTokenizer(file: vocabURL.path, problem: "id of '\(k)' is not a number")
            }
            vocab[k] = Int32(truncatingIfNeeded: n.intValue)
        }
        var pairs: [(String, String)] = []
        for (i, line) in mergesText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (i == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw CLIPError.badTokenizer(file: mergesURL.path, problem: "line \(i + 1) is not two symbols: '\(line)'")
            }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        try self.init(vocab: vocab, merges: pairs, contextLength: contextLength, source: vocabURL.path)
    }

    /// Builds a tokenizer from an in-memory vocabulary and merge list (ranked by position).
    init(vocab: [String: Int32], merges: [(String, String)], contextLength: Int = 77, source: String = "vocab") throws {
        guard let sot = vocab["<|startoftext|>"], let eot = vocab["<|endoftext|>"] else {
            throw CLIPError.badTokenizer(file: source, problem: "vocabulary lacks <|startoftext|> or <|endoftext|>")
        }
        guard contextLength >= 2 else {
            throw CLIPError.badTokenizer(file: source, problem: "context length \(contextLength) leaves no room for start and end tokens")
        }
        var byteIDs = [Int32](), byteEndIDs = [Int32]()
        for b in 0..<256 {
            let s = String(Self.byteEncoder[b])
            guard let a = vocab[s], let e = vocab[s + "</w>"] else {
                throw CLIPError.badTokenizer(file: source, problem: "vocabulary lacks the byte symbol '\(s)' or '\(s)</w>'")
            }
            byteIDs.append(a); byteEndIDs.append(e)
        }
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[a], let ib = vocab[b], let merged = vocab[a + b] else {
                throw CLIPError.badTokenizer(file: source, problem: "merge \(rank + 1) '\(a) \(b)' uses symbols not in the vocabulary")
            }
            let key = UInt64(UInt32(bitPattern: ia)) << 32 | UInt64(UInt32(bitPattern: ib))
            if table[key] == nil { table[key] = (Int32(rank), merged) }
        }
        self.vocab = vocab
        self.merges = table
        self.byteSymbolIDs = byteIDs
        self.byteEndSymbolIDs = byteEndIDs
        self.startToken = sot
        self.endToken = eot
        self.padToken = eot
        self.contextLength = contextLength
    }

    /// Token ids of `text` with start/end tokens, truncated to `contextLength` (keeping the end
    /// token) and, if `pad`, padded with `padToken` to exactly `contextLength`.
    func encode(_ text: String, pad: Bool = true) -> [Int32] {
        var body = tokens(text)
        if body.count > contextLength - 2 { body.removeLast(body.count - (contextLength - 2)) }
        var ids = [startToken]
        ids.reserveCapacity(contextLength)
        ids += body
        ids.append(endToken)
        if pad, ids.count < contextLength { ids += [Int32](repeating: padToken, count: contextLength - ids.count) }
        return ids
    }

    /// BPE ids of `text` without start/end tokens, truncation or padding.
    func tokens(_ text: String) -> [Int32] {
        let normalized = Self.normalize(text)
        var out: [Int32] = []
        let scalars = Array(normalized.unicodeScalars)
        var i = 0
        var segmentStart = 0
        let specials: [([Unicode.Scalar], Int32)] = [
            (Array("<|startoftext|>".unicodeScalars), startToken), (Array("<|endoftext|>".unicodeScalars), endToken),
        ]
        func flush(_ end: Int) {
            if end > segmentStart { splitAndEncode(scalars[segmentStart..<end], into: &out) }
        }
        while i < scalars.count {
            var matched = false
            if scalars[i] == "<" {
                for (lit, id) in specials where i + lit.count <= scalars.count && scalars[i..<(i + lit.count)].elementsEqual(lit) {
                    flush(i)
                    out.append(id)
                    i += lit.count
                    segmentStart = i
                    matched = true
                    break
                }
            }
            if !matched { i += 1 }
        }
        flush(scalars.count)
        return out
    }

    /// NFC, whitespace runs -> " ", lowercase.
    static func normalize(_ text: String) -> String {
        let nfc = text.precomposedStringWithCanonicalMapping
        var out = String.UnicodeScalarView()
        var inSpace = false
        for s in nfc.unicodeScalars {
            if s.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            if s.isASCII {
                let v = s.value
                out.append((v >= 65 && v <= 90) ? Unicode.Scalar(v + 32)! : s)
            } else if s.properties.changesWhenLowercased {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(s)
            }
        }
        return String(out)
    }

    @inline(__always)
    private static func isLetter(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII { let v = s.value | 0x20; return v >= 97 && v <= 122 }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    @inline(__always)
    private static func isNumber(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII { return s.value >= 48 && s.value <= 57 }
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// CLIP's pre-tokenizer pattern, then BPE per word.
    private func splitAndEncode(_ s: ArraySlice<Unicode.Scalar>, into out: inout [Int32]) {
        var i = s.startIndex
        let end = s.endIndex
        let contractions: [[Unicode.Scalar]] = [["'", "s"], ["'", "t"], ["'", "r", "e"], ["'", "v", "e"], ["'", "m"], ["'", "l", "l"], ["'", "d"]]
        while i < end {
            let c = s[i]
            var j = i
            if c == "'" , let m = contractions.first(where: { i + $0.count <= end && s[i..<(i + $0.count)].elementsEqual($0) }) {
                j = i + m.count
            } else if Self.isLetter(c) {
                j = i + 1
                while j < end, Self.isLetter(s[j]) { j += 1 }
            } else if Self.isNumber(c) {
                j = i + 1
            } else if c.properties.isWhitespace {
                i += 1
                continue
            } else {
                j = i + 1
                while j < end, !s[j].properties.isWhitespace, !Self.isLetter(s[j]), !Self.isNumber(s[j]) { j += 1 }
            }
            bpe(String(String.UnicodeScalarView(s[i..<j])), into: &out)
            i = j
        }
    }

    /// Byte-level BPE of one word, with a cache.
    private func bpe(_ word: String, into out: inout [Int32]) {
        if let hit = cache.get(word) {
            out += hit
            return
        }
        let bytes = Array(word.utf8)
        var symbols = [Int32]()
        symbols.reserveCapacity(bytes.count)
        for (k, b) in bytes.enumerated() {
            symbols.append(k == bytes.count - 1 ? byteEndSymbolIDs[Int(b)] : byteSymbolIDs[Int(b)])
        }
        while symbols.count > 1 {
            var bestRank = Int32.max, bestPos = -1, bestID: Int32 = 0
            for p in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(bitPattern: symbols[p])) << 32 | UInt64(UInt32(bitPattern: symbols[p + 1]))
                if let m = merges[key], m.rank < bestRank {
                    bestRank = m.rank; bestPos = p; bestID = m.id
                }
            }
            if bestPos < 0 { break }
            symbols[bestPos] = bestID
            symbols.remove(at: bestPos + 1)
        }
        cache.set(word, symbols)
        out += symbols
    }
}

/// The BPE word cache: a dictionary behind a lock (bounded: cleared when it passes 100k words).
final class LockedCache: Sendable {
    private let words = Mutex<[String: [Int32]]>([:])

    func get(_ word: String) -> [Int32]? {
        words.withLock { $0[word] }
    }

    func set(_ word: String, _ ids: [Int32]) {
        words.withLock { words in
            if words.count > 100_000 { words.removeAll(keepingCapacity: true) }
            words[word] = ids
        }
    }
}
