import ArgumentParser
import Foundation
import VDBCLIP
import VDBIngest

/// `vdb classify`: zero-shot classification of one image with a CLIP checkpoint.
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Zero-shot classify an image against text labels with CLIP.",
        discussion: """
            Each label is put into the template ("{}" is replaced by the label) and embedded; the \
            probabilities are the softmax over labels of exp(logit_scale) * cosine(image, text), as \
            in transformers' logits_per_image. Prints "label<TAB>probability" lines, most likely first, \
            or with --json {"image":FILE,"labels":[...],"probabilities":[...]} in label order. \
            --threads: inference threads.
            """)

    /// Accepted like everywhere else (a script may pass `--db` to every command), but unused.
    @OptionGroup(visibility: .hidden) var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Checkpoint directory (default: $VDB_MODEL, else the bundled demo model).", valueName: "dir"))
    var model: String?

    @OptionGroup var precision: PrecisionOption

    @Argument(help: ArgumentHelp("JPEG or PNG file.", valueName: "image"))
    var image: String

    @Option(name: .long, help: ArgumentHelp("Comma-separated labels (',' or '，' or '、'), e.g. \"cat,dog,car\".", valueName: "labels"))
    var labels: String

    @Option(name: .long, help: "Prompt template; {} is replaced by each label.")
    var template: String = "a photo of a {}"

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var threads: ThreadsOption

    var labelList: [String] {
        labels.split(whereSeparator: { $0 == "," || $0 == "，" || $0 == "、" }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        if labelList.isEmpty { throw ValidationError("--labels needs at least one non-empty label") }
    }

    func run() throws {
        let clip = try ModelLocation.resolve(explicit: model).load(threads: threads.count, precision: precision.precision)
        let pixels = try CLIPImageLoader.pixels(fromFile: image, config: clip.preprocess)
        let names = labelList
        let probs = try clip.classify(pixels: pixels, labels: names, template: template)
        if json {
            try JSONLineWriter.print(ClassificationJSON(image: image, labels: names, probabilities: probs.map(JSONFloat.init)))
        } else {
            for (label, p) in zip(names, probs).sorted(by: { $0.1 > $1.1 }) {
                print("\(label)\t\(String(format: "%.4f", p))")
            }
        }
    }
}
