// swift-tools-version:6.0
import PackageDescription

// A package that uses vdb the way a user's project does: through a versioned URL dependency.
// Scripts/check-consumer.sh clones vdb to a temporary directory, tags the clone 0.1.0 and runs
// this package with VDB_PACKAGE_URL pointing at it. SwiftPM refuses versioned dependencies that
// use unsafeFlags, so this is the check that vdb stays usable as a dependency.
let vdbURL = Context.environment["VDB_PACKAGE_URL"] ?? "file:///tmp/vdb-consumer/vdb"

let package = Package(
    name: "vdb-consumer",
    dependencies: [
        .package(url: vdbURL, from: "0.1.0"),
    ],
    targets: [
        .executableTarget(name: "vdb-consumer", dependencies: [
            .product(name: "VDBCore", package: "vdb"),
            .product(name: "VDBCLIP", package: "vdb"),
        ]),
    ]
)
