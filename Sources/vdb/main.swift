import ArgumentParser
import VDBCore

struct VDB: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vdb", abstract: "An embedded vector database with CLIP ingest.")
    func run() throws { print("vdb (kernels: \(kernelISA))") }
}
VDB.main()
