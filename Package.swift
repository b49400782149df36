// swift-tools-version:6.0
import PackageDescription

// vdb: an embedded vector database with CLIP ingest.
//
// Layout:
//   C targets       CLMDB (LMDB), COpenBLAS (cblas), CVDBKernels (vector distance kernels and the one
//                   runtime CPU dispatch, include/vdb_isa.h), CVDBNN (CLIP's packed GEMM, float32 and
//                   bf16, and LayerNorm/attention/GELU kernels), CImageCodecs (libjpeg/libpng decoding with setjmp error handling,
//                   resampling); the last two use CVDBKernels' ISA level
//   VDBSupport      internal (not a product): locks/boxes, parallel loops, mmap, byte cursor,
//                   float16, SplitMix64; `package` access, shared by every Swift target
//   VDBCore         storage engine on LMDB, FLAT / IVF / HNSW indexes, vector file formats
//   VDBCLIP         CLIP checkpoints, tokenizer, image preprocessing, both towers
//   VDBIngest       folder ingest (VDBCore + VDBCLIP)
//   VDBBench        benchmark harness behind `vdb bench` and Benchmarks/<name>/Sources executables
//   VDBServer       `vdb serve`: HTTP API and web app on Hummingbird
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
        .library(name: "VDBBench", targets: ["VDBBench"]),
        .library(name: "VDBServer", targets: ["VDBServer"]),
        .executable(name: "vdb", targets: ["vdb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-256 for model fingerprints and ingest content hashes.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
        .target(name: "CVDBKernels", linkerSettings: [.linkedLibrary("openblas")]),  // vdb_blas.h: vdb's OpenBLAS policy
        .target(name: "CVDBNN", dependencies: ["CVDBKernels"]),
        .target(name: "CImageCodecs", dependencies: ["CVDBKernels"],  // for the one CPU dispatch
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        .target(name: "VDBSupport"),
        .target(name: "VDBCore", dependencies: ["VDBSupport", "CLMDB", "COpenBLAS", "CVDBKernels"]),
        .target(name: "VDBCLIP", dependencies: [
            "VDBSupport", "CImageCodecs", "CVDBNN", "CVDBKernels",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "VDBIngest", dependencies: [
            "VDBCore", "VDBCLIP",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "VDBBench", dependencies: ["VDBSupport", "VDBCore", "CVDBKernels", "COpenBLAS"]),
        // `vdb serve`: the HTTP API and the web app (Web/ is embedded in the binary).
        .target(name: "VDBServer", dependencies: [
            "VDBSupport", "VDBCore", "VDBCLIP", "VDBIngest",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "MultipartKit", package: "multipart-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], resources: [.embedInCode("Web/index.html"), .embedInCode("Web/app.css"), .embedInCode("Web/app.js")]),
        .executableTarget(name: "vdb", dependencies: [
            "VDBSupport", "VDBCore", "VDBCLIP", "VDBIngest", "VDBBench", "VDBServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Benchmark executables: Benchmarks/<name>/Sources -> vdb-<name>-bench (Benchmarks/README.md).
        .executableTarget(name: "vdb-clip-bench", dependencies: ["VDBCLIP", "VDBBench"], path: "Benchmarks/clip/Sources"),
        .executableTarget(name: "vdb-image-bench", dependencies: ["VDBCLIP", "VDBBench"], path: "Benchmarks/image/Sources"),
        .executableTarget(name: "vdb-micro-bench", dependencies: ["VDBCore", "VDBBench", "VDBSupport", "CVDBKernels", "COpenBLAS"],
                          path: "Benchmarks/micro/Sources"),
        // The reliability torture tests (Docs/reliability.md), run by Benchmarks/torture/ci.sh and run.sh.
        .executableTarget(name: "vdb-torture", dependencies: [
            "VDBCore", "VDBCLIP", "VDBIngest", "VDBSupport", .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Benchmarks/torture/Sources"),
        // The C kernels of CVDBKernels and CVDBNN (one dispatch) at every ISA level this CPU has,
        // against plain references. (VDBSupport for SplitMix64.)
        .testTarget(name: "CVDBKernelsTests", dependencies: ["CVDBKernels", "CVDBNN", "VDBSupport", "COpenBLAS"]),
        // Fixtures/format1.tar.xz: a database written by format version 1 (Scripts/make_v1_fixture.sh).
        .testTarget(name: "VDBCoreTests", dependencies: ["VDBCore", "VDBSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "VDBSupportTests", dependencies: ["VDBSupport"]),
        .testTarget(name: "VDBCLIPTests", dependencies: ["VDBCLIP"], resources: [.copy("Fixtures")]),
        .testTarget(name: "VDBIngestTests", dependencies: ["VDBIngest", "VDBCore", "VDBCLIP", "VDBTestSupport"]),
        .testTarget(name: "VDBBenchTests", dependencies: ["VDBBench", "VDBCore", "VDBSupport", "VDBTestSupport"]),
        // Runs the built `vdb` executable as a subprocess (build it first: `swift build`).
        .testTarget(name: "VDBCLITests", dependencies: ["VDBCore", "VDBCLIP", "VDBIngest", "VDBSupport", "VDBTestSupport"]),
        .testTarget(name: "VDBServerTests", dependencies: [
            "VDBServer", "VDBCore", "VDBIngest", "VDBCLIP", "VDBSupport", "VDBTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        // Shared by the test targets only: repository paths, the built `vdb`, running a process.
        .target(name: "VDBTestSupport", path: "Tests/VDBTestSupport"),
    ]
)
