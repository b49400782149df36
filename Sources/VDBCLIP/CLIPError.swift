/// Errors from loading and running a CLIP checkpoint. Every case names the file, tensor or field
/// at fault so the message alone says what to fix.
public enum CLIPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A required file is absent from the checkpoint directory.
    case missingFile(path: String, hint: String)
    /// The directory holds only a PyTorch pickle checkpoint, which vdb does not read.
    case pytorchBinOnly(directory: String)
    /// `config.json` or `preprocessor_config.json` is not valid JSON or has a field of the wrong type/value.
    case badConfig(file: String, field: String, problem: String)
    /// The model type, activation or architecture is not one vdb implements.
    case unsupported(what: String)
    /// The safetensors file is truncated or its header is corrupt.
    case corruptSafetensors(path: String, problem: String)
    /// A tensor the configuration requires is absent from the weights.
    case missingTensor(name: String)
    /// A tensor has a shape other than the configuration implies.
    case tensorShape(name: String, expected: [Int], found: [Int])
    /// A tensor is stored in a dtype vdb cannot convert.
    case tensorDType(name: String, dtype: String)
    /// `vocab.json` / `merges.txt` are malformed.
    case badTokenizer(file: String, problem: String)
    /// An input given to the model is invalid (wrong pixel tensor size, token id out of range...).
    case invalidInput(String)
    /// An I/O error while reading a file.
    case io(path: String, problem: String)

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
        case .io(let path, let problem):
            return "\(path): \(problem)"
        }
    }
}
