import Foundation
@testable import VDBCore

// Deterministic random numbers for tests: VDBCore's `SplitMix64` (seeded, same on every machine).

/// A fresh temporary directory, removed by `cleanup()`.
struct TempDir {
    let url: URL
    var path: String { url.path }
    init(_ label: String = "vdb") {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    }
    func sub(_ name: String) -> String { url.appendingPathComponent(name).path }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

func randomVectors(_ n: Int, _ d: Int, seed: UInt64) -> [[Float]] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { _ in (0..<d).map { _ in Float.random(in: -1...1, using: &rng) } }
}

/// Exact top-k by brute force in Double, ties by smaller id: (id, distance as reported).
func bruteForce(_ base: [[Float]], ids: [UInt64], _ q: [Float], k: Int, metric: Metric) -> [(UInt64, Double)] {
    func prep(_ v: [Float]) -> [Double] {
        let dv = v.map(Double.init)
        if metric == .cosine { let n = dv.reduce(0) { $0 + $1 * $1 }.squareRoot(); return dv.map { $0 / n } }
        return dv
    }
    let qq = prep(q)
    var scored: [(UInt64, Double, Double)] = []  // id, score (smaller closer), reported
    for (i, v) in base.enumerated() {
        let x = prep(v)
        if metric == .l2 {
            var s = 0.0
            for j in 0..<x.count { let t = x[j] - qq[j]; s += t * t }
            scored.append((ids[i], s, s))
        } else {
            var s = 0.0
            for j in 0..<x.count { s += x[j] * qq[j] }
            scored.append((ids[i], -s, s))
        }
    }
    scored.sort { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
    return scored.prefix(k).map { ($0.0, $0.2) }
}

/// Root of the package (directory of Package.swift), from this file's path.
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The shared ann-dev dataset directory, if present.
func annDevDirectory() -> URL? {
    if let env = ProcessInfo.processInfo.environment["VDB_ANN_DEV"], !env.isEmpty {
        let u = URL(fileURLWithPath: env)
        return FileManager.default.fileExists(atPath: u.appendingPathComponent("base.fvecs").path) ? u : nil
    }
    let u = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/ann-dev")
    return FileManager.default.fileExists(atPath: u.appendingPathComponent("base.fvecs").path) ? u : nil
}

/// The `vdb` executable built next to the test bundle, if present.
func vdbExecutable() -> URL? {
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

/// Runs a process to completion; returns (exit status, stdout, stderr).
@discardableResult
func run(_ exe: URL, _ args: [String], env: [String: String] = [:]) throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = exe
    p.arguments = args
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    p.environment = e
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let r = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: r, as: UTF8.self))
}

/// Writes vectors as an .fvecs file.
func writeFvecs(_ path: String, _ vectors: [[Float]]) throws {
    var data = Data()
    for v in vectors {
        var d = Int32(v.count).littleEndian
        withUnsafeBytes(of: &d) { data.append(contentsOf: $0) }
        v.withUnsafeBytes { data.append(contentsOf: $0) }
    }
    try data.write(to: URL(fileURLWithPath: path))
}
