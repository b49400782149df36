// swift-tools-version:6.0
import PackageDescription

// vdb: an embedded vector database with CLIP ingest.
//
// Layout:
//   C targets       CLMDB (LMDB), COpenBLAS (cblas), CVDBKernels (SIMD distance kernels with
//                   runtime CPU dispatch), CImageCodecs (libjpeg/libpng decoding with setjmp error handling)
//   VDBCore         storage engine on LMDB, kernels, FLAT / IVF / HNSW indexes, vector file formats
//   VDBCLIP         CLIP checkpoints, tokenizer, image preprocessing, both towers
//   VDBIngest       folder ingest (VDBCore + VDBCLIP)
//   VDBBench        benchmark harness behind `vdb bench` and Benchmarks/<name>/Sources executables
//   vdb             the command-line tool, a thin layer over the libraries
let package = Package(
    name: "vdb",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "VDBCore", targets: ["VDBCore"]),
        .library(name: "VDBCLIP", targets: ["VDBCLIP"]),
        .library(name: "VDBIngest", targets: ["VDBIngest"]),
        .library(name: "VDBBench", targets: ["VDBBench"]),
        .executable(name: "vdb", targets: ["vdb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB", pkgConfig: "lmdb",
                       providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CVDBKernels", path: "Sources/CVDBKernels",
                cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "CImageCodecs", path: "Sources/CImageCodecs",
                cSettings: [.unsafeFlags(["-O3"])],
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        .target(name: "VDBCore", dependencies: ["CLMDB", "COpenBLAS", "CVDBKernels"]),
        .target(name: "VDBCLIP", dependencies: ["COpenBLAS", "CImageCodecs", "CVDBKernels"]),
        .target(name: "VDBIngest", dependencies: ["VDBCore", "VDBCLIP"]),
        .target(name: "VDBBench", dependencies: ["VDBCore", "CVDBKernels", "COpenBLAS"]),
        .executableTarget(name: "vdb", dependencies: [
            "VDBCore", "VDBCLIP", "VDBIngest", "VDBBench",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Benchmark executables: Benchmarks/<name>/Sources -> vdb-<name>-bench (Benchmarks/README.md).
        .executableTarget(name: "vdb-clip-bench", dependencies: ["VDBCLIP", "VDBBench"], path: "Benchmarks/clip/Sources"),
        .executableTarget(name: "vdb-image-bench", dependencies: ["VDBCLIP", "VDBBench"], path: "Benchmarks/image/Sources"),
        .executableTarget(name: "vdb-micro-bench", dependencies: ["VDBCore", "VDBBench", "CVDBKernels", "COpenBLAS"],
                          path: "Benchmarks/micro/Sources"),
        .testTarget(name: "VDBCoreTests", dependencies: ["VDBCore"]),
        .testTarget(name: "VDBCLIPTests", dependencies: ["VDBCLIP"], resources: [.copy("Fixtures")]),
        .testTarget(name: "VDBIngestTests", dependencies: ["VDBIngest", "VDBCore", "VDBCLIP"]),
        .testTarget(name: "VDBBenchTests", dependencies: ["VDBBench", "VDBCore"]),
        // Runs the built `vdb` executable as a subprocess (build it first: `swift build`).
        .testTarget(name: "VDBCLITests", dependencies: ["VDBCore", "VDBCLIP", "VDBIngest"]),
    ]
)
