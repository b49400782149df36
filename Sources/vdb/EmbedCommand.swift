import ArgumentParser
import Foundation
import VDBCLIP

/// `vdb embed`: CLIP embeddings of texts and images, as computed by `transformers`'
/// `get_text_features` / `get_image_features` (projected, not normalized).
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print CLIP embeddings (projected, not normalized) of texts and images.",
        discussion: """
            One line per input, texts first, then images, each in command-line order: the embedding as \
            [v1, v2, ...], or with --json exactly {"embedding": [v1, v2, ...]}.
            MODEL is a Hugging Face CLIP checkpoint directory (config.json, model.safetensors, \
            vocab.json, merges.txt, preprocessor_config.json).
            """)

    @Option(name: .long, help: ArgumentHelp("Checkpoint directory (default: $VDB_MODEL, else the bundled demo model).", valueName: "dir"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("Text to embed (repeatable).", valueName: "text"))
    var text: [String] = []

    @Option(name: .long, help: ArgumentHelp("JPEG or PNG file to embed (repeatable).", valueName: "file"))
    var image: [String] = []

    @Flag(name: .long, help: "Print {\"embedding\": [..]} per input.")
    var json = false

    @Option(name: .long, help: "Inference threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if text.isEmpty && image.isEmpty { throw ValidationError("give at least one --text or --image") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        try cli {
            let clip = try loadModel(try ModelLocation.resolve(model), threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
            var embeddings = try clip.embed(texts: text)
            if !image.isEmpty {
                embeddings += try clip.embed(pixels: image.map { try loadPixels(file: $0, model: clip) })
            }
            for e in embeddings { print(formatEmbedding(e, json: json)) }
        }
    }
}

/// `[v1, v2, ...]`, or `{"embedding": [v1, v2, ...]}` with shortest round-trip float text.
func formatEmbedding(_ e: [Float], json: Bool) -> String {
    let list = "[" + e.map { formatFloat($0) }.joined(separator: ", ") + "]"
    return json ? "{\"embedding\": \(list)}" : list
}

/// Shortest text that reads back as the same Float; JSON-safe (non-finite values become null).
func formatFloat(_ v: Float) -> String {
    guard v.isFinite else { return "null" }
    return "\(v)"
}
