import ArgumentParser
import Foundation
import VDBCLIP

/// `vdb classify`: zero-shot classification of one image with a CLIP checkpoint.
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Zero-shot classify an image against text labels with CLIP.",
        discussion: """
            Each label is put into the template ("{}" is replaced by the label) and embedded; the \
            probabilities are the softmax over labels of exp(logit_scale) * cosine(image, text), as \
            in transformers' logits_per_image. Prints "label<TAB>probability" lines, most likely first, \
            or with --json {"image": FILE, "labels": [...], "probabilities": [...]} in label order.
            """)

    @Option(name: .long, help: ArgumentHelp("Checkpoint directory (default: $VDB_MODEL, else the bundled demo model).", valueName: "dir"))
    var model: String?

    @Argument(help: ArgumentHelp("JPEG or PNG file.", valueName: "image"))
    var image: String

    @Option(name: .long, help: ArgumentHelp("Comma-separated labels (',' or '，' or '、'), e.g. \"cat,dog,car\".", valueName: "labels"))
    var labels: String

    @Option(name: .long, help: "Prompt template; {} is replaced by each label.")
    var template: String = "a photo of a {}"

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Option(name: .long, help: "Inference threads (default: all cores).")
    var threads: Int?

    var labelList: [String] {
        labels.split(whereSeparator: { $0 == "," || $0 == "，" || $0 == "、" }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        if labelList.isEmpty { throw ValidationError("--labels needs at least one non-empty label") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        try cli {
            let clip = try loadModel(try ModelLocation.resolve(model), threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
            let pixels = try loadPixels(file: image, model: clip)
            let names = labelList
            let probs = try clip.classify(pixels: pixels, labels: names, template: template)
            if json {
                let obj: [String: Any] = ["image": image, "labels": names, "probabilities": probs.map { Double($0) }]
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for (label, p) in zip(names, probs).sorted(by: { $0.1 > $1.1 }) {
                    print("\(label)\t\(String(format: "%.4f", p))")
                }
            }
        }
    }
}
