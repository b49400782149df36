import ArgumentParser
import Foundation
import VDBCLIP
import VDBIngest

/// `vdb embed`: CLIP embeddings of texts and images, as computed by `transformers`'
/// `get_text_features` / `get_image_features` (projected, not normalized).
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print CLIP embeddings (projected, not normalized) of texts and images.",
        discussion: """
            One line per input, texts first, then images, each in command-line order: the embedding as \
            [v1, v2, ...], or with --json {"embedding":[v1,v2,...]}.
            MODEL is a Hugging Face CLIP checkpoint directory (config.json, model.safetensors, \
            vocab.json, merges.txt, preprocessor_config.json).
            --threads: inference threads.
            """)

    /// Accepted like everywhere else (a script may pass `--db` to every command), but unused.
    @OptionGroup(visibility: .hidden) var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Checkpoint directory (default: $VDB_MODEL, else the bundled demo model).", valueName: "dir"))
    var model: String?

    @OptionGroup var precision: PrecisionOption

    @Option(name: .long, help: ArgumentHelp("Text to embed (repeatable).", valueName: "text"))
    var text: [String] = []

    @Option(name: .long, help: ArgumentHelp("JPEG or PNG file to embed (repeatable).", valueName: "file"))
    var image: [String] = []

    @Flag(name: .long, help: "Print {\"embedding\":[...]} per input.")
    var json = false

    @OptionGroup var threads: ThreadsOption

    func validate() throws {
        if text.isEmpty && image.isEmpty { throw ValidationError("give at least one --text or --image") }
    }

    func run() throws {
        let clip = try ModelLocation.resolve(explicit: model).load(threads: threads.count, precision: precision.precision)
        var embeddings = try clip.embed(texts: text)
        if !image.isEmpty {
            embeddings += try clip.embed(pixels: image.map { try CLIPImageLoader.pixels(fromFile: $0, config: clip.preprocess) })
        }
        if json {
            var out = JSONLineWriter()
            for e in embeddings { try out.write(EmbeddingJSON(e)) }
            out.flush()
        } else {
            var out = StdoutBuffer()
            // Shortest text that reads back as the same Float; non-finite values as "nan" / "inf".
            for e in embeddings { out.line("[" + e.map { "\($0)" }.joined(separator: ", ") + "]") }
            out.flush()
        }
    }
}
