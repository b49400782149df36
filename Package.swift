// swift-tools-version:6.0
import PackageDescription

// vdb: an embedded vector database with CLIP ingest.
//
// Layout:
//   C targets       CLMDB (LMDB), COpenBLAS (cblas), CVDBKernels (vector distance kernels and the one
//                   runtime CPU dispatch, include/vdb_isa.h), CVDBNN (CLIP LayerNorm/attention/GELU
//                   kernels), CImageCodecs (libjpeg/libpng decoding with setjmp error handling,
//                   resampling); the last two use CVDBKernels' ISA level
//   VDBCore         storage engine on LMDB, FLAT / IVF / HNSW indexes, vector file formats
//   VDBCLIP         CLIP checkpoints, tokenizer, image preprocessing, both towers
//   VDBIngest       folder ingest (VDBCore + VDBCLIP)
//   vdb             the command-line tool, a thin layer over the libraries
//
// Platforms: Linux only (verified on x86-64 by CI; arm64 expected to work through the portable
// kernels, untested). There is no `platforms:` entry because no Apple platform is supported or
// tested (see README "Platforms").
//
// No unsafeFlags, so the package can be used as a versioned dependency: C targets get the
// optimization of the build configuration (-O2 in release) and each SIMD kernel carries its ISA
// in a per-function target attribute (Sources/CVDBKernels/internal.h).
let package = Package(
    name: "vdb",
    products: [
        .library(name: "VDBCore", targets: ["VDBCore"]),
        .library(name: "VDBCLIP", targets: ["VDBCLIP"]),
        .library(name: "VDBIngest", targets: ["VDBIngest"]),
        .executable(name: "vdb", targets: ["vdb"]),
        .executable(name: "vdb-ann-bench", targets: ["vdb-ann-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-256 for model fingerprints and ingest content hashes.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB", pkgConfig: "lmdb",
                       providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CVDBKernels"),
        .target(name: "CVDBNN", dependencies: ["CVDBKernels"]),
        .target(name: "CImageCodecs", dependencies: ["CVDBKernels"],  // for the one CPU dispatch
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        .target(name: "VDBCore", dependencies: ["CLMDB", "COpenBLAS", "CVDBKernels"]),
        .target(name: "VDBCLIP", dependencies: [
            "COpenBLAS", "CImageCodecs", "CVDBNN",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "VDBIngest", dependencies: [
            "VDBCore", "VDBCLIP",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(name: "vdb", dependencies: [
            "VDBCore", "VDBCLIP", "VDBIngest",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "clip-bench", dependencies: ["VDBCLIP"], path: "Benchmarks/clip/Sources"),
        // Micro-benchmarks of the hot loops: `swift run -c release vdb-microbench`.
        .executableTarget(name: "vdb-microbench", dependencies: ["VDBCore", "CVDBKernels", "COpenBLAS"],
                          path: "Benchmarks/micro"),
        // ANN index benchmark (Benchmarks/ann/compare.py runs it next to Faiss and hnswlib).
        .executableTarget(name: "vdb-ann-bench", dependencies: ["VDBCore", "CVDBKernels", "COpenBLAS"],
                          path: "Benchmarks/ann/Sources"),
        // The C kernels of CVDBKernels and CVDBNN (one dispatch) at every ISA level this CPU has,
        // against plain references. (VDBCore only for its SplitMix64.)
        .testTarget(name: "CVDBKernelsTests", dependencies: ["CVDBKernels", "CVDBNN", "VDBCore"]),
        .testTarget(name: "VDBCoreTests", dependencies: ["VDBCore"]),
        .testTarget(name: "VDBCLIPTests", dependencies: ["VDBCLIP"], resources: [.copy("Fixtures")]),
        .testTarget(name: "VDBIngestTests", dependencies: ["VDBIngest", "VDBCore", "VDBCLIP"]),
    ]
)
