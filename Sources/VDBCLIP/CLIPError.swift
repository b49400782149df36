/// The one error type of VDBCLIP: loading a checkpoint, reading and preprocessing images, and
/// running the towers. Every case names the file, tensor, field or value at fault, so the
/// message alone (`description`, one line) says what to fix.
public enum CLIPError: Error, Sendable, Equatable, CustomStringConvertible {
    // MARK: Checkpoints

    /// A required file is absent from the checkpoint directory.
    case missingFile(path: String, hint: String)
    /// The directory holds only a PyTorch pickle checkpoint, which vdb does not read.
    case pytorchBinOnly(directory: String)
    /// `config.json` or `preprocessor_config.json` is not valid JSON or has a field of the wrong
    /// type or value (`file` is "preprocessing configuration" for a configuration built in code).
    case badConfig(file: String, field: String, problem: String)
    /// The model type, activation or architecture is not one vdb implements.
    case unsupported(what: String)
    /// The safetensors file is truncated, or its header is corrupt or describes impossible tensors.
    case corruptSafetensors(path: String, problem: String)
    /// A tensor the configuration requires is absent from the weights.
    case missingTensor(name: String)
    /// A tensor has a shape other than the configuration implies.
    case tensorShape(name: String, expected: [Int], found: [Int])
    /// A tensor is stored in a dtype vdb cannot convert.
    case tensorDType(name: String, dtype: String)
    /// `vocab.json` / `merges.txt` are malformed.
    case badTokenizer(file: String, problem: String)

    // MARK: Inputs

    /// An input given to the model is invalid (wrong pixel tensor size, token id out of range...).
    case invalidInput(String)
    /// A file could not be read (missing, a directory, permission denied, mmap failed...).
    case unreadableFile(path: String, reason: String)

    // MARK: Images (`source` is the file path, or the label given for in-memory data)

    /// Zero bytes.
    case emptyImage(source: String)
    /// Neither a JPEG nor a PNG signature (content is checked, never the file extension).
    case unknownImageFormat(source: String, leadingBytes: String)
    /// The data ends before the image is complete (e.g. "Premature end of JPEG file").
    case truncatedImage(source: String, format: ImageFormat, detail: String)
    /// The decoder rejected the data.
    case corruptImage(source: String, format: ImageFormat, detail: String)
    /// A valid image using a feature this decoder does not support.
    case unsupportedImage(source: String, format: ImageFormat, detail: String)
    /// More decoded pixels than the decompression-bomb limit allows.
    case imageTooLarge(source: String, detail: String)
    /// Memory allocation failed while decoding or resizing.
    case outOfMemory(source: String)
    /// Raw pixels handed in by the caller are inconsistent (size does not match width x height).
    case invalidPixels(detail: String)

    public var description: String {
        switch self {
        case .missingFile(let path, let hint):
            return "missing file \(path)" + (hint.isEmpty ? "" : ": \(hint)")
        case .pytorchBinOnly(let dir):
            return "\(dir) has only pytorch_model.bin (a PyTorch pickle), which vdb does not read. Convert it to "
                + "safetensors once with: python -c \"from transformers import AutoModel; d='\(dir)'; "
                + "AutoModel.from_pretrained(d).save_pretrained(d, safe_serialization=True)\""
        case .badConfig(let file, let field, let problem):
            return "\(file): field '\(field)': \(problem)"
        case .unsupported(let what):
            return "unsupported checkpoint: \(what)"
        case .corruptSafetensors(let path, let problem):
            return "corrupt safetensors file \(path): \(problem)"
        case .missingTensor(let name):
            return "tensor '\(name)' is missing from model.safetensors"
        case .tensorShape(let name, let expected, let found):
            return "tensor '\(name)' has shape \(found), expected \(expected) from config.json"
        case .tensorDType(let name, let dtype):
            return "tensor '\(name)' has dtype \(dtype); vdb reads F32, F16 and BF16"
        case .badTokenizer(let file, let problem):
            return "\(file): \(problem)"
        case .invalidInput(let message):
            return message
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read file: \(reason)"
        case .emptyImage(let source):
            return "\(source): empty file (0 bytes), not an image"
        case .unknownImageFormat(let source, let lead):
            return "\(source): not a JPEG or PNG image (content starts with \(lead))"
        case .truncatedImage(let source, let format, let detail):
            return "\(source): truncated \(format) image: \(detail)"
        case .corruptImage(let source, let format, let detail):
            return "\(source): corrupt \(format) image: \(detail)"
        case .unsupportedImage(let source, let format, let detail):
            return "\(source): unsupported \(format) image: \(detail)"
        case .imageTooLarge(let source, let detail):
            return "\(source): image too large: \(detail)"
        case .outOfMemory(let source):
            return "\(source): out of memory while decoding"
        case .invalidPixels(let detail):
            return "invalid pixel buffer: \(detail)"
        }
    }

    /// The file path or source label an image or file error is about; nil for the other cases.
    public var source: String? {
        switch self {
        case let .unreadableFile(path, _): return path
        case let .emptyImage(s), let .unknownImageFormat(s, _), let .truncatedImage(s, _, _), let .corruptImage(s, _, _),
             let .unsupportedImage(s, _, _), let .imageTooLarge(s, _), let .outOfMemory(s):
            return s
        default: return nil
        }
    }
}
