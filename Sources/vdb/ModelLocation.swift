import Foundation

/// Where the CLIP model comes from: `--model DIR`, else `$VDB_MODEL`, else the demo model
/// bundled with vdb (`Models/demo-clip` in the source tree, found next to the executable's
/// build folder or from this source file's location).
enum ModelLocation {
    static let bundledRelative = "Models/demo-clip"

    /// The model directory to load.
    static func resolve(_ option: String?) throws -> URL {
        if let option, !option.isEmpty { return URL(fileURLWithPath: (option as NSString).expandingTildeInPath) }
        if let env = ProcessInfo.processInfo.environment["VDB_MODEL"], !env.isEmpty {
            return URL(fileURLWithPath: (env as NSString).expandingTildeInPath)
        }
        if let bundled = bundledModel() { return bundled }
        throw CLIError("no model: pass --model DIR (a Hugging Face CLIP checkpoint directory) or set VDB_MODEL; "
            + "the bundled demo model (\(bundledRelative)) was not found")
    }

    /// The bundled demo model, if it can be found.
    static func bundledModel() -> URL? {
        var candidates: [URL] = []
        // The source tree this binary was built from: Sources/vdb/ModelLocation.swift -> repo root.
        let source = URL(fileURLWithPath: #filePath)
        candidates.append(source.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent())
        // Walking up from the executable (e.g. .build/release/vdb inside the repo).
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir)
            dir = dir.deletingLastPathComponent()
        }
        for root in candidates {
            let m = root.appendingPathComponent(bundledRelative)
            if FileManager.default.fileExists(atPath: m.appendingPathComponent("config.json").path) { return m }
        }
        return nil
    }
}
