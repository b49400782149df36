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
//   VDBServer       `vdb serve`: HTTP API and web app on Hummingbird
//   vdb             the command-line tool, a thin layer over the libraries
let package = Package(
    name: "vdb",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "VDBCore", targets: ["VDBCore"]),
        .library(name: "VDBCLIP", targets: ["VDBCLIP"]),
        .library(name: "VDBIngest", targets: ["VDBIngest"]),
        .library(name: "VDBServer", targets: ["VDBServer"]),
        .executable(name: "vdb", targets: ["vdb"]),
        .executable(name: "vdb-ann-bench", targets: ["vdb-ann-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // vdb serve (VDBServer): HTTP server, logging, multipart image uploads.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
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
        // `vdb serve`: the HTTP API and the web app (Web/ is embedded in the binary).
        .target(name: "VDBServer", dependencies: [
            "VDBCore", "VDBCLIP", "VDBIngest",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "MultipartKit", package: "multipart-kit"),
        ], resources: [.embedInCode("Web/index.html"), .embedInCode("Web/app.css"), .embedInCode("Web/app.js")]),
        .executableTarget(name: "vdb", dependencies: [
            "VDBCore", "VDBCLIP", "VDBIngest", "VDBServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "clip-bench", dependencies: ["VDBCLIP"], path: "Benchmarks/clip/Sources"),
        // Micro-benchmarks of the hot loops: `swift run -c release vdb-microbench`.
        .executableTarget(name: "vdb-microbench", dependencies: ["VDBCore", "CVDBKernels", "COpenBLAS"],
                          path: "Benchmarks/micro"),
        // ANN index benchmark (Benchmarks/ann/compare.py runs it next to Faiss and hnswlib).
        .executableTarget(name: "vdb-ann-bench", dependencies: ["VDBCore", "CVDBKernels", "COpenBLAS"],
                          path: "Benchmarks/ann/Sources"),
        .testTarget(name: "VDBCoreTests", dependencies: ["VDBCore"]),
        .testTarget(name: "VDBCLIPTests", dependencies: ["VDBCLIP"], resources: [.copy("Fixtures")]),
        .testTarget(name: "VDBIngestTests", dependencies: ["VDBIngest", "VDBCore", "VDBCLIP"]),
        .testTarget(name: "VDBServerTests", dependencies: [
            "VDBServer", "VDBCore", "VDBIngest", "VDBCLIP",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
    ]
)
