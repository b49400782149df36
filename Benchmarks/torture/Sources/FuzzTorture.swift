// The fuzz corpus: N mutated inputs of each kind go through the library in a worker process
// (`vdb-torture fuzz-worker`), one at a time; the parent watches for crashes (the worker dies),
// hangs (no answer within the timeout) and rejections without a message, restarts the worker
// after either, and keeps every offending input. HTTP request bodies go to a `vdb serve`.
import Foundation
import VDBCLIP
import VDBCore
import VDBSupport
#if canImport(Glibc)
import Glibc
#endif

enum FuzzKind: String, CaseIterable {
    case jpeg, png, safetensorsHeader = "safetensors-header", safetensorsBody = "safetensors-body",
         config = "config.json", vocab = "vocab.json", merges = "merges.txt", fvecs, bvecs, npy, jsonl, http

    /// File name of the inputs (model kinds replace this file of a model directory).
    var fileName: String {
        switch self {
        case .safetensorsHeader, .safetensorsBody: return "model.safetensors"
        case .config: return "config.json"
        case .vocab: return "vocab.json"
        case .merges: return "merges.txt"
        case .http: return "body.json"
        default: return "input." + rawValue
        }
    }

    var isModelFile: Bool { [.safetensorsHeader, .safetensorsBody, .config, .vocab, .merges].contains(self) }
}

struct FuzzTorture {
    let vdb: String
    let work: String
    let kinds: [FuzzKind]
    let count: Int
    let seed: UInt64
    let repo: URL
    let timeout: Double

    var tinyModel: String { repo.appendingPathComponent("Tests/VDBCLIPTests/Fixtures/tiny-clip").path }
    var imageFixtures: String { repo.appendingPathComponent("Tests/VDBCLIPTests/Fixtures/images").path }

    func run() throws -> [Report] {
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work + "/crashes", withIntermediateDirectories: true)
        return try kinds.map { kind in kind == .http ? try runHTTP() : try run(kind) }
    }

    // MARK: - seeds and mutation

    /// Valid inputs the mutations start from.
    func seeds(_ kind: FuzzKind) throws -> [[UInt8]] {
        func file(_ p: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: p))) }
        switch kind {
        case .jpeg, .png:
            let ext = kind == .jpeg ? ".jpg" : ".png"
            let names = try FileManager.default.contentsOfDirectory(atPath: imageFixtures).filter { $0.hasSuffix(ext) }.sorted()
            return try names.map { try file(imageFixtures + "/" + $0) }.filter { $0.count > 8 && $0.count < 2 << 20 }
        case .safetensorsHeader, .safetensorsBody, .config, .vocab, .merges:
            return [try file(tinyModel + "/" + kind.fileName)]
        case .fvecs, .bvecs:
            var d = Data()
            var rng = SplitMix64(seed: 3)
            for _ in 0..<40 {
                withUnsafeBytes(of: Int32(8).littleEndian) { d.append(contentsOf: $0) }
                for _ in 0..<8 {
                    if kind == .fvecs { withUnsafeBytes(of: Float(Int(rng.next() % 200) - 100) / 10) { d.append(contentsOf: $0) } }
                    else { d.append(UInt8(truncatingIfNeeded: rng.next())) }
                }
            }
            return [[UInt8](d)]
        case .npy:
            let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (40, 8), }"
            var h = Array(header.utf8)
            while (10 + h.count + 1) % 64 != 0 { h.append(0x20) }
            h.append(0x0A)
            var d: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h
            for i in 0..<320 { withUnsafeBytes(of: Float(i % 17) - 8) { d += $0 } }
            return [d]
        case .jsonl:
            let lines = (0..<30).map { i in "{\"id\": \(i), \"vector\": [\((0..<8).map { String(Float(($0 + i) % 7) - 3) }.joined(separator: ", "))], \"metadata\": {\"n\": \(i), \"s\": \"v\(i)\"}}" }
            return [Array(lines.joined(separator: "\n").utf8)]
        case .http:
            return []
        }
    }

    /// Mutated input number `i` of `kind`.
    func input(_ kind: FuzzKind, _ i: Int, seeds: [[UInt8]]) -> [UInt8] {
        var m = Mutator(seed: seed &+ UInt64(i) &* 0x1000_0001 &+ UInt64(FuzzKind.allCases.firstIndex(of: kind) ?? 0) << 40)
        var b = seeds[m.int(seeds.count)]
        let rounds = 1 + m.int(3)
        for _ in 0..<rounds {
            switch kind {
            case .safetensorsHeader:
                // The JSON header (its length prefix rewritten), or the prefix itself.
                let n = Int(clamping: b.count >= 8 ? UInt64(littleEndian: b.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }) : 0)
                guard n > 0, n <= b.count - 8, m.chance(85) else { b = m.bytes(b); continue }
                let header = String(decoding: b[8..<(8 + n)], as: UTF8.self)
                let mutated = Array(m.json(header).utf8)
                var len = UInt64(mutated.count).littleEndian
                if m.chance(10) { len = UInt64(truncatingIfNeeded: m.hostileInteger()) }
                b = withUnsafeBytes(of: &len) { Array($0) } + mutated + Array(b[(8 + n)...])
            case .safetensorsBody:
                let n = Int(clamping: b.count >= 8 ? UInt64(littleEndian: b.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }) : 0)
                b = m.bytes(b, protectHead: n < b.count - 8 ? 8 + n : 0, keepSize: m.chance(85))
            case .config, .vocab: b = Array(m.json(String(decoding: b, as: UTF8.self)).utf8)
            case .merges, .jsonl: b = Array(m.lines(String(decoding: b, as: UTF8.self)).utf8)
            case .npy:
                if m.chance(60) {
                    // The header dictionary text: shapes, dtypes, order.
                    var t = String(decoding: b.prefix(128), as: UTF8.self)
                    let swaps = [("(40, 8)", "(\(m.hostileInteger()), \(m.hostileInteger()))"), ("(40, 8)", "(40, 8, 2)"), ("(40, 8)", "(40.5, 8)"),
                                 ("(40, 8)", "(-40, 8)"), ("'<f4'", "'<f8'"), ("'<f4'", "'<f2'"), ("'<f4'", "'>f4'"), ("False", "True"),
                                 ("'shape'", "'shapes'"), ("(40, 8)", "(40, 0)")]
                    let (a, c) = swaps[m.int(swaps.count)]
                    t = t.replacingOccurrences(of: a, with: c)
                    b = Array(t.utf8) + Array(b.dropFirst(128))
                } else { b = m.bytes(b) }
            case .fvecs, .bvecs:
                if m.chance(40) {
                    // A record's dimension field.
                    let rec = kind == .fvecs ? 36 : 12
                    let r = m.int(max(1, b.count / rec)) * rec
                    let v = UInt32(truncatingIfNeeded: m.hostileInteger()).littleEndian
                    withUnsafeBytes(of: v) { for (j, x) in $0.enumerated() where r + j < b.count { b[r + j] = x } }
                } else { b = m.bytes(b) }
            case .png:
                b = m.bytes(b, protectHead: 8)
                if m.chance(70) { b = PNGChunks.fixCRCs(b) }
            default: b = m.bytes(b)
            }
        }
        return b
    }

    // MARK: - library kinds

    func run(_ kind: FuzzKind) throws -> Report {
        var report = Report("fuzz \(kind.rawValue)")
        let start = Date()
        let seeds = try seeds(kind)
        guard !seeds.isEmpty else { throw HarnessError("no seed inputs for \(kind.rawValue)") }
        let dir = work + "/" + kind.rawValue
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var worker: FuzzWorkerProcess?
        var maxRSS = 0
        func stopWorker() { if let w = worker { maxRSS = max(maxRSS, w.finish().maxRSS); worker = nil } }
        for i in 0..<count {
            let bytes = input(kind, i, seeds: seeds)
            let path = dir + "/\(i)-" + kind.fileName
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            if worker == nil { worker = try FuzzWorkerProcess(vdbTorture: CommandLine.arguments[0], kind: kind, work: dir, repo: repo) }
            let answer = worker!.send(path, timeout: timeout)
            switch answer {
            case .accepted: report.count("accepted"); try? FileManager.default.removeItem(atPath: path)
            case .rejected(let message):
                report.count("rejected")
                if report.notes.count < 4 && !report.notes.values.contains(String(message.prefix(160))) {
                    report.notes["rejection \(report.notes.count + 1)"] = String(message.prefix(160))
                }
                if message.trimmingCharacters(in: .whitespaces).count < 8 {
                    report.fail("input \(i): rejected without a message ('\(message)'), kept at \(keep(path))")
                } else {
                    try? FileManager.default.removeItem(atPath: path)
                }
            case .crashed(let why):
                report.fail("input \(i): the worker crashed (\(why)), input kept at \(keep(path))")
                stopWorker()
            case .hung:
                report.fail("input \(i): no answer within \(Int(timeout)) s (hang), input kept at \(keep(path))")
                worker?.kill()
                stopWorker()
            }
            report.count("inputs")
        }
        stopWorker()
        report.counters["worker peak RSS MiB"] = maxRSS >> 20
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Moves an offending input to `crashes/` and returns its new path.
    func keep(_ path: String) -> String {
        let to = work + "/crashes/" + (path as NSString).lastPathComponent
        try? FileManager.default.removeItem(atPath: to)
        try? FileManager.default.moveItem(atPath: path, toPath: to)
        return to
    }

    // MARK: - HTTP

    /// Mutated JSON bodies to the write and search routes of a `vdb serve`: every answer is a
    /// response (2xx, or 4xx with an error message); the server never dies or stops answering.
    func runHTTP() throws -> Report {
        var report = Report("fuzz http")
        let start = Date()
        let dir = work + "/http"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = dir + "/db"
        guard try runChild(vdb, ["--db", db, "create", "c", "--dim", "4"], workDir: dir).status == 0 else { throw HarnessError("create failed") }
        let routes: [(String, String, String)] = [
            ("PUT", "/api/v1/collections/c/points", #"{"points": [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4], "metadata": {"a": "x", "n": 3}}, {"id": 2, "vector": [1, 0, 0, 0]}]}"#),
            ("POST", "/api/v1/collections/c/search", #"{"vector": [0.1, 0.2, 0.3, 0.4], "k": 5, "filter": "n>=1", "params": {"ef": 64, "nprobe": 4}}"#),
            ("POST", "/api/v1/collections/c/points/scroll", #"{"limit": 10, "offset": 0, "with_vector": true}"#),
            ("POST", "/api/v1/collections/c/points/delete", #"{"ids": [5, 6]}"#),
            ("PUT", "/api/v1/collections/f", #"{"dim": 4, "metric": "cosine"}"#),
            ("POST", "/api/v1/collections/c/index", #"{"type": "hnsw", "params": {"m": 8, "ef_construction": 32}}"#),
        ]
        var server = try ServerProcess(vdb: vdb, db: db, work: dir)
        var maxRSS = 0
        for i in 0..<count {
            var m = Mutator(seed: seed &+ UInt64(i) &* 0x2000_0003)
            let (method, path, body) = routes[m.int(routes.count)]
            var text = body
            for _ in 0..<(1 + m.int(3)) { text = m.json(text) }
            let response = try? HTTPClient.request(port: server.port, method: method, path: path, body: Data(text.utf8), timeout: timeout)
            report.count("inputs")
            if let r = response {
                if (200..<300).contains(r.status) { report.count("accepted") }
                else if r.status >= 500 && r.bodyText.contains("\"internal\"") {
                    report.fail("request \(i) (\(method) \(path)): \(r.status) internal error: \(r.bodyText.prefix(200)); body kept at \(keepText(text, i))")
                } else if r.bodyText.count < 10 {
                    report.fail("request \(i): \(r.status) without a message; body kept at \(keepText(text, i))")
                } else { report.count("rejected") }
            }
            if response == nil || !server.isRunning {
                let r = server.stop()
                maxRSS = max(maxRSS, r.maxRSS)
                let why = r.signal.map { "signal \($0)" } ?? (response == nil ? "no answer within \(Int(timeout)) s" : "exit \(r.status)")
                report.fail("request \(i) (\(method) \(path)): the server \(why); body kept at \(keepText(text, i))")
                server = try ServerProcess(vdb: vdb, db: db, work: dir)
            }
        }
        maxRSS = max(maxRSS, server.stop().maxRSS)
        report.counters["server peak RSS MiB"] = maxRSS >> 20
        let check = (try? Database(path: db).check().ok) ?? false
        if !check { report.fail("the server's database fails vdb check after the fuzz run") }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    func keepText(_ text: String, _ i: Int) -> String {
        let p = work + "/crashes/http-\(i).json"
        try? text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}

/// The worker side: `vdb-torture fuzz-worker --kind K`, one input path per stdin line, one answer
/// per stdout line: `ok` or `rejected<TAB>message`.
struct FuzzWorker {
    let kind: FuzzKind
    let work: String
    let repo: URL

    func run() throws {
        let scratchModel = work + "/model-\(getpid())"
        if kind.isModelFile {
            try? FileManager.default.removeItem(atPath: scratchModel)
            try FileManager.default.copyItem(atPath: repo.appendingPathComponent("Tests/VDBCLIPTests/Fixtures/tiny-clip").path, toPath: scratchModel)
        }
        defer { try? FileManager.default.removeItem(atPath: scratchModel) }
        let original = kind.isModelFile ? try Data(contentsOf: URL(fileURLWithPath: scratchModel + "/" + kind.fileName)) : Data()
        let image = try Data(contentsOf: repo.appendingPathComponent("Tests/VDBCLIPTests/Fixtures/images/rgb_420.jpg"))
        let dbPath = work + "/db-\(getpid())"
        try? FileManager.default.removeItem(atPath: dbPath)
        defer { try? FileManager.default.removeItem(atPath: dbPath) }
        let db = [.fvecs, .bvecs, .npy, .jsonl].contains(kind) ? try Database(path: dbPath) : nil
        var n = 0
        while let line = readLine() {
            n += 1
            let answer: String
            do {
                switch kind {
                case .jpeg, .png:
                    let data = try Data(contentsOf: URL(fileURLWithPath: line))
                    _ = try? ImageProbe.info(of: data)
                    _ = try? CLIPImageLoader.decode(data: data, minimumShortSide: 224)
                    let r = try CLIPImageLoader.preprocess(data: data, source: "input")
                    guard r.pixels.data.count == 3 * 224 * 224 else { throw HarnessError("tensor of \(r.pixels.data.count) floats") }
                case .safetensorsHeader, .safetensorsBody, .config, .vocab, .merges:
                    let target = scratchModel + "/" + kind.fileName
                    try FileManager.default.removeItem(atPath: target)
                    try FileManager.default.copyItem(atPath: line, toPath: target)
                    defer { try? original.write(to: URL(fileURLWithPath: target)) }
                    let model = try CLIPModel.load(directory: URL(fileURLWithPath: scratchModel), threads: 1)
                    _ = try model.embed(texts: ["a photo of two red circles", ""])
                    _ = try model.embed(pixels: [try CLIPImageLoader.preprocess(data: image, config: model.preprocess).pixels])
                case .fvecs, .bvecs, .npy, .jsonl:
                    guard let db else { throw HarnessError("no database") }
                    _ = try? VectorFiles.readAll(line)
                    let name = "f\(n)"
                    let c = try db.createCollection(name: name, dimension: 8, metric: n % 2 == 0 ? .l2 : .cosine)
                    defer { try? db.dropCollection(named: name) }
                    try c.importFile(line)
                    _ = try c.search([Float](repeating: 0.5, count: 8), k: 5)
                case .http:
                    throw HarnessError("http inputs go to vdb serve")
                }
                answer = "ok"
            } catch {
                let text = "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
                answer = "rejected\t" + text
            }
            FileHandle.standardOutput.write(Data((answer + "\n").utf8))
        }
    }
}

/// The parent's handle on a fuzz worker: sends a path, waits for the answer line.
final class FuzzWorkerProcess {
    enum Answer { case accepted, rejected(String), crashed(String), hung }

    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private var buffer = Data()

    init(vdbTorture: String, kind: FuzzKind, work: String, repo: URL) throws {
        process.executableURL = URL(fileURLWithPath: vdbTorture)
        process.arguments = ["fuzz-worker", "--kind", kind.rawValue, "--work", work, "--repo", repo.path]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func send(_ path: String, timeout: Double) -> Answer {
        do { try input.fileHandleForWriting.write(contentsOf: Data((path + "\n").utf8)) } catch {
            return .crashed("its stdin closed: \(reason())")
        }
        let fd = output.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                if line == "ok" { return .accepted }
                return .rejected(line.hasPrefix("rejected\t") ? String(line.dropFirst(9)) : line)
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return .hung }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(min(left, 1) * 1000)) > 0 {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { return .crashed(reason()) }
                buffer.append(contentsOf: chunk[0..<n])
            }
        }
    }

    private func reason() -> String {
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? "signal \(process.terminationStatus)" : "exit \(process.terminationStatus)"
    }

    func kill() { if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) } }

    /// Closes its input and waits; returns its peak memory.
    func finish() -> (maxRSS: Int, Void) {
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(2000) }
        kill()
        process.waitUntilExit()
        return (childrenPeakRSS(), ())
    }
}

/// Peak RSS of the largest child waited for so far (getrusage RUSAGE_CHILDREN), bytes.
func childrenPeakRSS() -> Int {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &u)
    return Int(u.ru_maxrss) * 1024
}
