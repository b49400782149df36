/// Errors from image probing, decoding and CLIP preprocessing. Every case names the source
/// (a file path, or the label given for in-memory data) and the problem.
public enum ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read (missing, a directory, permission denied...).
    case unreadableFile(path: String, reason: String)
    /// Zero bytes.
    case empty(source: String)
    /// Neither a JPEG nor a PNG signature (content is checked, never the file extension).
    case unknownFormat(source: String, leadingBytes: String)
    /// The data ends before the image is complete (e.g. "Premature end of JPEG file").
    case truncated(source: String, format: ImageFormat, detail: String)
    /// The decoder rejected the data.
    case corrupt(source: String, format: ImageFormat, detail: String)
    /// A valid file using a feature this decoder does not support.
    case unsupported(source: String, format: ImageFormat, detail: String)
    /// More decoded pixels than the decompression-bomb limit allows.
    case tooLarge(source: String, detail: String)
    /// Memory allocation failed.
    case outOfMemory(source: String)
    /// Raw pixels handed in by the caller are inconsistent (size does not match width x height).
    case invalidPixels(detail: String)
    /// A preprocessing configuration value is invalid or unsupported.
    case invalidConfig(detail: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): return "\(path): cannot read file: \(reason)"
        case let .empty(source): return "\(source): empty file (0 bytes), not an image"
        case let .unknownFormat(source, lead):
            return "\(source): not a JPEG or PNG image (content starts with \(lead))"
        case let .truncated(source, format, detail): return "\(source): truncated \(format) image: \(detail)"
        case let .corrupt(source, format, detail): return "\(source): corrupt \(format) image: \(detail)"
        case let .unsupported(source, format, detail): return "\(source): unsupported \(format) image: \(detail)"
        case let .tooLarge(source, detail): return "\(source): image too large: \(detail)"
        case let .outOfMemory(source): return "\(source): out of memory while decoding"
        case let .invalidPixels(detail): return "invalid pixel buffer: \(detail)"
        case let .invalidConfig(detail): return "invalid preprocessing configuration: \(detail)"
        }
    }

    /// The file path or source label the error is about, if any.
    public var source: String? {
        switch self {
        case let .unreadableFile(p, _): return p
        case let .empty(s), let .unknownFormat(s, _), let .truncated(s, _, _), let .corrupt(s, _, _),
             let .unsupported(s, _, _), let .tooLarge(s, _), let .outOfMemory(s):
            return s
        case .invalidPixels, .invalidConfig: return nil
        }
    }
}
