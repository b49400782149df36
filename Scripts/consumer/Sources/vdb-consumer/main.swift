// Uses vdb as a dependency: creates a tiny collection, searches it exactly and through an HNSW
// index, and checks the answers; also touches VDBCLIP (the C image codecs and nn kernels are
// part of the build). Exits non-zero with a message on any mismatch.
import Foundation
import VDBCLIP
import VDBCore

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("vdb-consumer: FAILED: \(message)\n".utf8))
    exit(1)
}

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-consumer-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: dir) }

do {
    let db = try Database(path: dir.path)
    let colors = try db.createCollection(name: "colors", dimension: 3, metric: .l2)
    let vectors: [[Float]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.9, 0.1, 0], [0.5, 0.5, 0.5]]
    let names = ["red", "green", "blue", "orange", "grey"]
    let ids = try colors.insert(vectors, metadata: names.map { ["name": .string($0)] })

    let hits = try colors.search([0.88, 0.12, 0], k: 2)
    let got = hits.map { $0.metadata["name"]?.stringValue ?? "?" }
    guard got == ["orange", "red"], hits.map(\.id) == [ids[3], ids[0]] else {
        fail("exact search for [0.88, 0.12, 0] gave \(got), expected [orange, red]")
    }
    guard abs(hits[0].distance - 0.0008) < 1e-6 else { fail("distance \(hits[0].distance), expected 0.0008") }

    try colors.buildIndex(kind: .hnsw, parameters: IndexParameters(m: 8, efConstruction: 32))
    let approx = try colors.search([0, 0.1, 0.9], k: 1, parameters: SearchParameters(ef: 16))
    guard approx.first?.metadata["name"]?.stringValue == "blue" else {
        fail("HNSW search for [0, 0.1, 0.9] gave \(approx), expected blue")
    }

    // VDBCLIP is usable too: the default preprocessing configuration validates.
    try CLIPPreprocessConfig.default.validate()

    print("vdb-consumer: ok (exact: \(got.joined(separator: ", ")); hnsw: blue; kernels: \(kernelISA))")
} catch {
    fail("\(error)")
}
