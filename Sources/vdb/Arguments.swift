// Argument types and checks shared by the vdb commands: the enums that are command-line values,
// range checks that name the flag, the number/vector/id parsers, and `--threads`.
import ArgumentParser
import Foundation
import VDBCLIP
import VDBCore
import VDBSupport

// MARK: - enums as arguments

/// `--metric l2|ip|cosine` (case-insensitive).
extension Metric: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(rawValue: argument.lowercased())
    }

    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// `--index` / `--type flat|ivf_flat|ivf_sq8|hnsw` (case-insensitive; `ivf-flat` and `ivfflat`
/// are accepted for `ivf_flat`, likewise for `ivf_sq8`).
extension IndexKind: ExpressibleByArgument {
    public init?(argument: String) {
        let name = argument.lowercased().replacingOccurrences(of: "-", with: "_")
        switch name {
        case "ivfflat": self = .ivfFlat
        case "ivfsq8": self = .ivfSQ8
        default: self.init(rawValue: name)
        }
    }

    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

// MARK: - range checks

/// Throws a `ValidationError` naming `flag` and its allowed range unless `value >= minimum`:
/// `-k must be >= 1 (got -1)`.
func requireAtLeast<T: BinaryInteger>(_ minimum: T, _ value: T?, _ flag: String) throws {
    guard let value, value < minimum else { return }
    throw ValidationError("\(flag) must be >= \(minimum) (got \(value))")
}

// MARK: - `--threads`

/// `--threads N`, one meaning in every command: the worker threads the command may use for its
/// work (batch queries, index builds, image decoding, CLIP inference); 0 = all cores. Not given
/// means 0, except for `vdb index build`, which then keeps the collection's recorded build threads.
struct ThreadsOption: ParsableArguments {
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Worker threads for this command (0 = all cores, the default).", valueName: "N"))
    var threads: Int?

    func validate() throws {
        try requireAtLeast(0, threads, "--threads")
    }

    /// The number of threads to run, with 0 and "not given" resolved to the number of cores.
    var count: Int {
        let n = threads ?? 0
        return resolvedThreads(n)
    }
}

/// `--precision`, for the commands that load a CLIP model.
struct PrecisionOption: ParsableArguments {
    @Option(help: ArgumentHelp("CLIP's matrix products: float32 (the default) or bfloat16 (bf16): about twice as fast "
        + "on CPUs with AVX512_BF16, embeddings within a cosine of 0.9999 of float32's (Docs/benchmarks-clip.md).",
        valueName: "P"))
    var precision: CLIPPrecision = .float32
}

extension CLIPPrecision: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument.lowercased() {
        case "float32", "fp32", "f32": self = .float32
        case "bfloat16", "bf16": self = .bfloat16
        default: return nil
        }
    }

    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

// MARK: - value parsers

/// Parses "0.1,-0.2,3e-1" (spaces allowed) into floats; the message names the flag and the component.
func parseVector(_ text: String, option: String) throws -> [Float] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    var out: [Float] = []
    out.reserveCapacity(parts.count)
    for (i, part) in parts.enumerated() {
        let p = part.trimmingCharacters(in: .whitespaces)
        guard let f = Float(p), f.isFinite else {
            throw ValidationError("\(option): '\(p)' (component \(i)) is not a finite number")
        }
        out.append(f)
    }
    return out
}

/// Parses "1,2,3" into ids.
func parseIDs(_ text: String, option: String) throws -> [UInt64] {
    try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map {
        guard let id = UInt64($0) else { throw ValidationError("\(option): '\($0)' is not a non-negative integer id") }
        return id
    }
}

/// The filter of `--where` conditions (all must hold) and a `--filter` JSON together, nil when
/// neither is given; a malformed one is a `ValidationError` naming the part and column.
func parseFilter(conditions: [String], json: String?) throws -> Filter? {
    do {
        var f = try Filter(where: conditions)
        if let json { f = f.and(try Filter(json: json)) }
        return f.isEmpty && json == nil ? nil : f
    } catch let e as VDBError {
        throw ValidationError(e.description)
    }
}
