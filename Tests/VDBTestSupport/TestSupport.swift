// Helpers shared by vdb's test targets (a regular target under Tests/, used only by tests):
// repository paths, the built `vdb` executable, and running a process to completion.
import Foundation

/// Paths inside the repository, from this file's location (Tests/VDBTestSupport/).
package enum Repo {
    package static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    package static let clipFixtures = root.appendingPathComponent("Tests/VDBCLIPTests/Fixtures")
    package static let images = clipFixtures.appendingPathComponent("images")
    package static let tinyModel = clipFixtures.appendingPathComponent("tiny-clip")
    package static let otherModel = clipFixtures.appendingPathComponent("tiny-clip-bf16")
    package static let demoModel = root.appendingPathComponent("Models/demo-clip")
    package static let samples = root.appendingPathComponent("Samples/photos")
}

/// The `vdb` executable SwiftPM built next to the test bundle (e.g. `.build/debug/vdb`), if any.
/// `swift test` builds it with the tests; callers `#require` it, so a missing binary fails.
package func vdbExecutable() -> URL? {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("vdb")
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue,
           FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

/// What one run of a process did.
package struct ProcessOutput: CustomStringConvertible, Sendable {
    package var status: Int32
    package var stdout: String
    package var stderr: String
    package var lines: [Substring] { stdout.split(separator: "\n") }
    package var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs `executable args` to completion with `environment` (nil: this process's), reading stdout
/// and stderr at once so that a full pipe cannot block the child.
package func runProcess(_ executable: URL, _ args: [String], environment: [String: String]? = nil) throws -> ProcessOutput {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    nonisolated(unsafe) var errData = Data()  // written by the reader, read after `reading.wait()`
    let reading = DispatchGroup()
    DispatchQueue.global().async(group: reading) { errData = err.fileHandleForReading.readDataToEndOfFile() }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    reading.wait()
    p.waitUntilExit()
    return ProcessOutput(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}
