// Helpers shared by every vdb subcommand: database resolution, errors, progress bar, JSON output.
import ArgumentParser
import Foundation
import VDBCLIP
import VDBCore
import VDBIngest
#if canImport(Glibc)
import Glibc
#endif

/// Options every command accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Database directory (default: $VDB_DB, else ~/.local/share/vdb).", valueName: "DIR"))
    var db: String?

    /// The database directory to use.
    var databasePath: String {
        if let db, !db.isEmpty { return (db as NSString).expandingTildeInPath }
        if let env = ProcessInfo.processInfo.environment["VDB_DB"], !env.isEmpty { return (env as NSString).expandingTildeInPath }
        return (NSHomeDirectory() as NSString).appendingPathComponent(".local/share/vdb")
    }

    /// Opens (creating if needed) the database.
    func open() throws -> Database {
        try Database(path: databasePath)
    }
}

/// A user-facing failure: printed as one `error: ...` line, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Runs a command body, turning library errors into `CLIError` (one line).
func cli<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as VDBError {
        throw CLIError(e.description)
    } catch let e as CLIPError {
        throw CLIError(e.description)
    } catch let e as ImageError {
        throw CLIError(e.description)
    } catch let e as IngestError {
        throw CLIError(e.description)
    }
}

/// Writes `text` to standard error.
func printErr(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Whether standard error is a terminal (progress bars only then).
var stderrIsTTY: Bool { isatty(STDERR_FILENO) != 0 }

/// Parses "0.1,0.2,0.3" (spaces allowed) into floats.
func parseVector(_ text: String, option: String) throws -> [Float] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    var out: [Float] = []
    out.reserveCapacity(parts.count)
    for (i, p) in parts.enumerated() {
        guard let f = Float(p) else { throw CLIError("\(option): '\(p)' (component \(i)) is not a number") }
        out.append(f)
    }
    return out
}

/// Parses "1,2,3" into ids.
func parseIDs(_ text: String) throws -> [UInt64] {
    try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map {
        guard let id = UInt64($0) else { throw CLIError("--ids: '\($0)' is not a non-negative integer id") }
        return id
    }
}

/// Parses a metric name.
func parseMetric(_ text: String) throws -> Metric {
    guard let m = Metric(rawValue: text.lowercased()) else {
        throw CLIError("unknown metric '\(text)' (expected l2, ip or cosine)")
    }
    return m
}

// MARK: - progress bar

/// A one-line progress bar on standard error, redrawn at most 10 times a second; silent when
/// standard error is not a terminal.
final class ProgressBar {
    private let label: String
    private let enabled: Bool
    private var last = Date.distantPast
    private let start = Date()

    init(label: String, enabled: Bool = stderrIsTTY) {
        self.label = label
        self.enabled = enabled
    }

    /// Redraws with `fraction` done (0...1) and a status such as "12000/50000  8400 vec/s".
    func update(fraction: Double, status: String, force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        guard force || now.timeIntervalSince(last) >= 0.1 else { return }
        last = now
        let width = 30
        let f = max(0, min(1, fraction))
        let filled = Int(f * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let text = "\r\(label) [\(bar)] \(String(format: "%3d", Int(f * 100)))% \(status)"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Clears the line.
    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }

    var elapsed: TimeInterval { Date().timeIntervalSince(start) }
}

// MARK: - JSON output

/// JSON string literal with escapes.
func jsonString(_ s: String) -> String { jsonStringLiteral(s) }

/// JSON number for a float (shortest round-trip form); null if not finite.
func jsonNumber(_ f: Float) -> String { f.isFinite ? "\(f)" : "null" }
func jsonNumber(_ d: Double) -> String { d.isFinite ? "\(d)" : "null" }

/// JSON object of metadata, keys sorted.
func jsonMetadata(_ m: Metadata) -> String {
    let items = m.keys.sorted().map { k -> String in
        let v: String
        switch m[k]! {
        case .string(let s): v = jsonString(s)
        case .int(let i): v = String(i)
        case .double(let d): v = jsonNumber(d)
        case .bool(let b): v = b ? "true" : "false"
        }
        return "\(jsonString(k)): \(v)"
    }
    return "{" + items.joined(separator: ", ") + "}"
}

/// One search hit as JSON: {"id": 7, "distance": 0.53, "metadata": {...}}.
func jsonHit(_ h: SearchHit) -> String {
    "{\"id\": \(h.id), \"distance\": \(jsonNumber(h.distance)), \"metadata\": \(jsonMetadata(h.metadata))}"
}

/// Writes lines to stdout through one buffered handle (fast for many result lines).
struct StdoutBuffer {
    private var buffer = Data()
    mutating func line(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        buffer.append(0x0A)
        if buffer.count > 1 << 16 { flush() }
    }
    mutating func flush() {
        if !buffer.isEmpty { FileHandle.standardOutput.write(buffer); buffer.removeAll(keepingCapacity: true) }
    }
}

/// Human-readable byte count.
func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.1f ", v) + units[u]
}
