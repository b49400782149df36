// swift-tools-version:6.0
// Preprocessing benchmark for vdb's CLIP image loader (decode + resize + crop + normalize).
// A separate package so that the main Package.swift stays untouched; it depends on the vdb
// package two directories up. Run through ./run.sh (see Docs/benchmarks-image.md).
import Foundation
import PackageDescription

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
// SwiftPM names a path dependency after its directory (e.g. "vdb", "main", "wt-image").
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "vdb-image-bench",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: root.path)],
    targets: [
        .executableTarget(name: "vdb-image-bench",
                          dependencies: [.product(name: "VDBCLIP", package: rootIdentity)],
                          path: "Sources"),
    ]
)
