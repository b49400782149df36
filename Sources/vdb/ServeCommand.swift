import ArgumentParser
import Foundation
import Synchronization
import VDBCLIP
import VDBCore
import VDBIngest
import VDBServer

/// `vdb serve [--host H] [--port P] [--model DIR] [--api-key KEY] [--read-only] ...`
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the database over HTTP: a JSON API under /api/v1 and the photo-search web app at /.",
        discussion: """
            Binds 127.0.0.1 by default. Any other --host needs an API key (--api-key or \
            $VDB_API_KEY); with a key every /api route and /metrics need 'Authorization: Bearer KEY'. \
            The CLIP model for text and image search is --model DIR, else $VDB_MODEL, else the \
            bundled demo model. See Docs/http-api.md for every route.

            Examples:
              vdb serve --db photos.vdb
              vdb serve --db photos.vdb --port 9000 --allow-ingest-from ~/Pictures
              VDB_API_KEY=s3cret-key vdb serve --host 0.0.0.0 --read-only
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Address to listen on (non-loopback addresses need an API key).")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port (0 = any free port).")
    var port: Int = 8080

    @Option(help: ArgumentHelp("CLIP checkpoint directory for text/image search and ingest.", valueName: "DIR"))
    var model: String?

    @OptionGroup var precision: PrecisionOption

    @Option(name: .customLong("api-key"), help: ArgumentHelp("Require 'Authorization: Bearer KEY' (default: $VDB_API_KEY).", valueName: "KEY"))
    var apiKey: String?

    @Flag(name: .customLong("read-only"), help: "Refuse every write with 403.")
    var readOnly = false

    @Option(help: ArgumentHelp("Allow cross-origin requests from this origin (CORS).", valueName: "ORIGIN"))
    var cors: String?

    @Option(name: .customLong("allow-ingest-from"), help: ArgumentHelp("A folder POST .../ingest may read (repeatable).", valueName: "DIR"))
    var allowIngestFrom: [String] = []

    @Option(name: .customLong("max-body"), help: ArgumentHelp("Largest request body in bytes.", valueName: "BYTES"))
    var maxBody: Int = 32 << 20

    @Option(name: .customLong("embedding-slots"), help: "CLIP embeddings run at once (0 = one per core); more requests wait, then get 503.")
    var embeddingSlots: Int = 0

    @Option(name: .customLong("read-threads"), help: "Threads running searches and other reads (0 = one per core); more requests wait in line.")
    var readThreads: Int = 0

    func run() throws {
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.apiKey = apiKey ?? ProcessInfo.processInfo.environment["VDB_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        config.readOnly = readOnly
        config.corsOrigin = cors
        config.allowIngestFrom = allowIngestFrom.map { ($0 as NSString).expandingTildeInPath }
        config.maxBodyBytes = maxBody
        if embeddingSlots > 0 { config.embeddingConcurrency = embeddingSlots }
        if readThreads > 0 { config.readThreads = readThreads }
        try config.validate()
        let server = try VDBServer(database: try global.open(), model: try serveModel(), configuration: config)
        let dbPath = global.databasePath
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run { port in
                    printErr("vdb serve: http://\(host.contains(":") ? "[\(host)]" : host):\(port)/  (database \(dbPath)"
                             + (server.model.map { ", model \($0.directory.path)" } ?? ", no model") + "; Ctrl-C stops)")
                }
            } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw CLIError("server stopped: \(error)") }
    }

    /// The model: --model or $VDB_MODEL (an error if it does not load), else the bundled demo
    /// model when present, else none (text and image search then answer 422).
    private func serveModel() throws -> CLIPModel? {
        let explicit = model != nil || ProcessInfo.processInfo.environment["VDB_MODEL"].map { !$0.isEmpty } == true
        guard explicit || ModelLocation.bundledDirectory() != nil else {
            printErr("vdb serve: no CLIP model (--model DIR): text and image search are off")
            return nil
        }
        return try ModelLocation.resolve(explicit: model).load(threads: ProcessInfo.processInfo.activeProcessorCount, precision: precision.precision)
    }
}
