import Foundation
@testable import VDBCore
import VDBSupport

// Deterministic random numbers for tests: VDBSupport's `SplitMix64` (seeded, same on every machine).

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
