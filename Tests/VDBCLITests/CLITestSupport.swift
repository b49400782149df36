import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import VDBCore
import VDBSupport
import VDBTestSupport

// Runs the built `vdb` executable as a subprocess. `swift test` builds it with the tests; a test
// that cannot find it fails (it does not skip).

/// A temporary directory (removed by `cleanup()`) and the `vdb` executable to run in it.
struct Sandbox {
    let url: URL
    let vdb: URL

    init(_ label: String = "vdb-cli") throws {
        vdb = try #require(vdbExecutable(), "the vdb executable was not found next to the test bundle (build with `swift build`)")
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the sandbox.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    /// The sandbox's database directory.
    var db: String { path("db") }

    func cleanup() { try? FileManager.default.removeItem(at: url) }

    /// Runs `vdb args` to completion. `$VDB_DB` and `$VDB_MODEL` are cleared unless `env` sets them.
    @discardableResult
    func run(_ args: [String], env: [String: String] = [:]) throws -> ProcessOutput {
        var e = ProcessInfo.processInfo.environment
        e["VDB_DB"] = nil
        e["VDB_MODEL"] = nil
        for (k, v) in env { e[k] = v }
        return try runProcess(vdb, args, environment: e)
    }

    /// Runs `vdb args` and requires exit status 0.
    @discardableResult
    func ok(_ args: [String], env: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessOutput {
        let r = try run(args, env: env)
        #expect(r.status == 0, "vdb \(args.joined(separator: " ")): \(r)", sourceLocation: sourceLocation)
        return r
    }

    /// Starts `vdb args`, waits until collection `collection` holds at least `count` vectors
    /// (at most a minute), then kills the process with SIGKILL and waits for it. Returns whether
    /// the kill landed while it ran (false: it finished first).
    func killMidway(_ args: [String], collection: String, atLeast count: Int) throws -> Bool {
        let child = Process()
        child.executableURL = vdb
        child.arguments = args
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        var seen = 0
        let deadline = Date().addingTimeInterval(60)
        while seen < count && Date() < deadline && child.isRunning {
            seen = (try? Database(path: db).collection(named: collection).count()) ?? 0
            usleep(2000)
        }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        return child.terminationReason == .uncaughtSignal
    }

    /// Writes vectors as an .fvecs file in the sandbox and returns its path.
    func fvecs(_ name: String, _ vectors: [[Float]]) throws -> String {
        var data = Data()
        for v in vectors {
            var d = Int32(v.count).littleEndian
            withUnsafeBytes(of: &d) { data.append(contentsOf: $0) }
            v.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        try data.write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }
}

/// Seeded random vectors in [-1, 1].
func randomVectors(_ n: Int, _ d: Int, seed: UInt64) -> [[Float]] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { _ in (0..<d).map { _ in Float.random(in: -1...1, using: &rng) } }
}

// MARK: - JSON output

/// Decodes each line of `text` as a `T` (keys as printed: the mirrors below spell them snake_case).
func decodeLines<T: Decodable>(_ type: T.Type, _ text: String) throws -> [T] {
    try text.split(separator: "\n").map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
}

/// The keys of the JSON object on one line.
func jsonKeys(_ line: some StringProtocol) throws -> Set<String> {
    let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    return Set(object.keys)
}

/// Mirrors of the shapes Docs/cli.md documents, decoded from the CLI's output.
enum Shape {
    /// `vdb search --json`, one per query.
    struct Search: Decodable {
        struct Hit: Decodable {
            var id: UInt64
            var distance: Float
            var metadata: [String: MetadataJSON]
        }
        var query: Int
        var results: [Hit]
    }

    /// A metadata value: string, integer, number or boolean.
    enum MetadataJSON: Decodable, Equatable {
        case string(String), int(Int64), double(Double), bool(Bool)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let i = try? c.decode(Int64.self) { self = .int(i) }
            else if let d = try? c.decode(Double.self) { self = .double(d) }
            else { self = .string(try c.decode(String.self)) }
        }
    }

    struct Parameters: Decodable {
        var nlist: Int
        var m: Int
        var efConstruction: Int
        var seed: UInt64
        var buildThreads: Int
        enum CodingKeys: String, CodingKey {
            case nlist, m, seed, efConstruction = "ef_construction", buildThreads = "build_threads"
        }
    }

    /// `vdb info NAME --json`.
    struct CollectionInfo: Decodable {
        var name: String
        var dimension: Int
        var metric: String
        var count: Int
        var index: String
        var indexBuilt: Bool
        var parameters: Parameters
        var bytesOnDisk: Int
        var indexMemoryBytes: Int
        enum CodingKeys: String, CodingKey {
            case name, dimension, metric, count, index, parameters
            case indexBuilt = "index_built", bytesOnDisk = "bytes_on_disk", indexMemoryBytes = "index_memory_bytes"
        }
    }

    /// `vdb info --json`.
    struct DatabaseInfo: Decodable {
        struct Unreadable: Decodable { var name: String; var error: String }
        var path: String
        var bytesOnDisk: Int
        var collections: [CollectionInfo]
        var unreadable: [Unreadable]?
        enum CodingKeys: String, CodingKey { case path, collections, unreadable, bytesOnDisk = "bytes_on_disk" }
    }

    /// `vdb check --json` (and the `check` of `vdb backup --json`).
    struct Check: Decodable {
        struct Collection: Decodable {
            var name: String
            var count: Int
            var blocks: Int
            var metadataRecords: Int
            var indexRecords: Int
            var index: String
            var ok: Bool
            var problems: [String]
            enum CodingKeys: String, CodingKey {
                case name, count, blocks, index, ok, problems
                case metadataRecords = "metadata_records", indexRecords = "index_records"
            }
        }
        var path: String
        var formatVersion: Int
        var fileBytes: Int
        var requiredBytes: Int
        var ok: Bool
        var problems: [String]
        var collections: [Collection]
        enum CodingKeys: String, CodingKey {
            case path, ok, problems, collections
            case formatVersion = "format_version", fileBytes = "file_bytes", requiredBytes = "required_bytes"
        }
    }

    /// `vdb backup --json`.
    struct Backup: Decodable {
        var path: String
        var bytes: Int
        var check: Check
    }

    /// `vdb index build --json`.
    struct IndexBuild: Decodable {
        var collection: String
        var index: String
        var parameters: Parameters
        var count: Int
        var seconds: Double
        var indexMemoryBytes: Int
        enum CodingKeys: String, CodingKey {
            case collection, index, parameters, count, seconds, indexMemoryBytes = "index_memory_bytes"
        }
    }

    /// `vdb embed --json`, one per input.
    struct Embedding: Decodable { var embedding: [Float] }

    /// `vdb classify --json`.
    struct Classification: Decodable {
        var image: String
        var labels: [String]
        var probabilities: [Float]
    }
}
