// Helpers shared by the vdb subcommands: the error type, stderr, progress bar, buffered output.
import ArgumentParser
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mistake found while a command runs (a bad file, a dimension that does not match...):
/// `main.swift` prints it as one `error: ...` line with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Writes `text` to standard error.
func printErr(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Whether standard error is a terminal (progress bars only then).
var stderrIsTTY: Bool { isatty(STDERR_FILENO) != 0 }

// MARK: - progress bar

/// A one-line progress bar on standard error, redrawn at most 10 times a second; silent when
/// standard error is not a terminal. Safe to update from the worker threads of a build.
final class ProgressBar: Sendable {
    private let label: String
    private let enabled: Bool
    /// When the bar was last drawn; the lock also keeps concurrent redraws from interleaving.
    private let lastDrawn = Mutex(Date.distantPast)

    init(label: String, enabled: Bool = stderrIsTTY) {
        self.label = label
        self.enabled = enabled
    }

    /// Redraws with `fraction` done (0...1) and a status such as "12000/50000  8400 vec/s".
    func update(fraction: Double, status: String) {
        guard enabled else { return }
        lastDrawn.withLock { last in
            let now = Date()
            guard now.timeIntervalSince(last) >= 0.1 else { return }
            last = now
            let width = 30
            let f = max(0, min(1, fraction))
            let filled = Int(f * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let text = "\r\(label) [\(bar)] \(String(format: "%3d", Int(f * 100)))% \(status)"
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// Clears the line.
    func finish() {
        guard enabled else { return }
        lastDrawn.withLock { _ in FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}

// MARK: - output

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
