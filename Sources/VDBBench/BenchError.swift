/// Errors of the benchmark harness, each naming the problem and the file or value involved.
public enum BenchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A parameter is out of range or inconsistent with the data.
    case invalidArgument(String)
    /// A file cannot be opened, read or written.
    case io(path: String, reason: String)
    /// A file's content does not follow its format.
    case corruptFile(path: String, reason: String)
    /// Base, queries and ground truth do not fit together.
    case mismatch(String)

    /// One line naming the problem and the file or value involved.
    public var description: String {
        switch self {
        case .invalidArgument(let m): return "invalid argument: \(m)"
        case .io(let p, let r): return "\(p): \(r)"
        case .corruptFile(let p, let r): return "\(p): corrupt file: \(r)"
        case .mismatch(let m): return "dataset mismatch: \(m)"
        }
    }
}
