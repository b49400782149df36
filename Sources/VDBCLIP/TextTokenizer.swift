import Foundation

/// Text to token ids for a checkpoint's text tower. `CLIPModel.tokenizer` is the one its family
/// uses: `CLIPTokenizer` (byte-level BPE) for CLIP, `BertTokenizer` (WordPiece) for Chinese-CLIP.
/// Both reproduce the Hugging Face fast tokenizer that ships with the checkpoints.
public protocol TextTokenizer: Sendable {
    /// The most ids `encode` returns (special tokens included).
    var contextLength: Int { get }
    /// The id `encode` pads with.
    var padToken: Int32 { get }
    /// Entries in the vocabulary file.
    var vocabularySize: Int { get }
    /// The ids the text tower reads: the family's start/end tokens around the text's tokens,
    /// truncated to `contextLength` (the end token kept) and, if `pad`, padded to exactly
    /// `contextLength` with `padToken`.
    func encode(_ text: String, pad: Bool) -> [Int32]
    /// The text's token ids alone: no special tokens added, no truncation, no padding.
    func tokens(_ text: String) -> [Int32]
}

extension TextTokenizer {
    /// `encode(text, pad: true)`: ids padded to `contextLength`.
    public func encode(_ text: String) -> [Int32] { encode(text, pad: true) }
}

extension CLIPTokenizer: TextTokenizer {}

/// The tokenizer of a checkpoint directory for `config`'s family, or nil when the directory has
/// none of its files (then only token ids and images can be embedded).
func loadTextTokenizer(directory: URL, config: CLIPConfig) throws -> (any TextTokenizer)? {
    let fm = FileManager.default
    switch config.family {
    case .clip:
        let vocab = directory.appendingPathComponent("vocab.json"), merges = directory.appendingPathComponent("merges.txt")
        guard fm.fileExists(atPath: vocab.path) || fm.fileExists(atPath: merges.path) else { return nil }
        let tok = try CLIPTokenizer(vocabURL: vocab, mergesURL: merges, contextLength: config.contextLength)
        guard tok.vocabularySize <= config.vocabSize, Int(tok.largestTokenID) < config.vocabSize else {
            throw CLIPError.badTokenizer(file: vocab.path,
                problem: "\(tok.vocabularySize) tokens with ids up to \(tok.largestTokenID) but the model's vocab_size is \(config.vocabSize)")
        }
        return tok
    case .chineseCLIP:
        let vocab = directory.appendingPathComponent("vocab.txt")
        guard fm.fileExists(atPath: vocab.path) else { return nil }
        let tok = try BertTokenizer(directory: directory, maxPositions: config.contextLength)
        guard tok.vocabularySize <= config.vocabSize else {
            throw CLIPError.badTokenizer(file: vocab.path,
                problem: "\(tok.vocabularySize) tokens but the model's vocab_size is \(config.vocabSize)")
        }
        return tok
    }
}
