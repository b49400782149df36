import CVDBKernels
import Foundation
import Testing

/// One ISA level that runs on this machine, with its table of kernels (`vdb_kernel_table` of
/// CVDBKernels or `vdb_nn_table` of CVDBNN).
struct Level<Table: Sendable>: CustomStringConvertible, Sendable {
    let isa: Int32
    let table: Table
    var description: String { String(cString: vdb_isa_name(isa)) }

    /// Every level this CPU runs, scalar first (`DispatchTests` checks the list against /proc/cpuinfo).
    static func all(_ tableFor: (Int32) -> UnsafePointer<Table>?) -> [Level] {
        (0..<Int32(VDB_ISA_COUNT)).compactMap { isa in tableFor(isa).map { Level(isa: isa, table: $0.pointee) } }
    }
}

/// The vector kernels of every level this CPU runs.
let kernelLevels = Level.all(vdb_kernel_table_for)

/// The CPU's ISA level as /proc/cpuinfo reports it (an independent check of the C detection),
/// or nil where that file is absent.
func cpuinfoLevel() -> Int32? {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") || $0.hasPrefix("Features") }) else {
        return nil
    }
    let flags = Set(line.split(separator: " ").map(String.init))
    #if arch(x86_64)
    guard flags.isSuperset(of: ["avx2", "fma"]) else { return Int32(VDB_ISA_SCALAR) }
    return flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl"]) ? Int32(VDB_ISA_AVX512) : Int32(VDB_ISA_AVX2)
    #else
    return Int32(VDB_ISA_SCALAR)
    #endif
}

@Suite struct DispatchTests {
    /// The levels tested by the kernel suites are exactly those this CPU has: nothing is skipped
    /// silently on a machine with AVX-512, and nothing unsupported is attempted elsewhere.
    @Test func detectionMatchesCPUInfo() throws {
        let expected = try #require(cpuinfoLevel(), "/proc/cpuinfo is needed to check the CPU detection")
        #expect(vdb_isa_best() == expected)
        #expect(kernelLevels.map(\.isa) == Array(0...expected))
        #expect(nnLevels.map(\.isa) == Array(0...expected))
        for level in kernelLevels { #expect(level.table.isa == level.isa) }
        for level in nnLevels { #expect(level.table.isa == level.isa) }
        #expect(vdb_kernel_table_for(expected + 1) == nil)
        #expect(vdb_kernel_table_for(-1) == nil)
        print("[kernels] levels tested on this CPU: \(kernelLevels.map(\.description).joined(separator: ", "))")
    }

    /// The active level is what VDB_FORCE_ISA asks for (the best level when it is unset), and
    /// the public functions call that level's table.
    @Test func activeLevelFollowsEnvironment() {
        var want: Int32 = -1
        _ = vdb_isa_resolve(getenv("VDB_FORCE_ISA"), vdb_isa_best(), &want)
        #expect(vdb_isa_active() == want)
        #expect(String(cString: vdb_kernels_isa()) == String(cString: vdb_isa_name(want)))
        let a: [Float] = (0..<37).map { Float($0) * 0.37 - 5 }, b: [Float] = (0..<37).map { 3 - Float($0) * 0.11 }
        let table = vdb_kernel_table_for(vdb_isa_active())!.pointee
        #expect(vdb_l2sq(a, b, 37) == table.l2sq(a, b, 37))
        #expect(vdb_ip(a, b, 37) == table.ip(a, b, 37))
    }

    @Test func forceRequestsResolve() {
        func resolve(_ request: String?, best: Int32) -> (Int32, Int32) {
            var level: Int32 = -1
            let outcome = request.map { vdb_isa_resolve($0, best, &level) } ?? vdb_isa_resolve(nil, best, &level)
            return (Int32(outcome), level)
        }
        let none = Int32(VDB_ISA_REQUEST_NONE), ok = Int32(VDB_ISA_REQUEST_OK)
        let unsupported = Int32(VDB_ISA_REQUEST_UNSUPPORTED), unknown = Int32(VDB_ISA_REQUEST_UNKNOWN)
        #expect(resolve(nil, best: 2) == (none, 2))
        #expect(resolve("", best: 1) == (none, 1))
        #expect(resolve("scalar", best: 2) == (ok, 0))
        #expect(resolve("avx2", best: 2) == (ok, 1))
        #expect(resolve("avx512", best: 2) == (ok, 2))
        #expect(resolve("avx512", best: 1) == (unsupported, 1))
        #expect(resolve("avx2", best: 0) == (unsupported, 0))
        #expect(resolve("AVX2", best: 2) == (unknown, 2))
        #expect(resolve("sse4", best: 1) == (unknown, 1))
    }

    /// `vdb_isa_set` refuses what cannot run and keeps the level; setting the active level is a
    /// no-op. (Switching levels for real is left to processes: other suites run kernels
    /// concurrently, so this suite tests each level through its table instead.)
    @Test func setRefusesUnsupportedLevels() {
        let before = vdb_isa_active()
        #expect(vdb_isa_set(-1) == -1)
        #expect(vdb_isa_set(Int32(VDB_ISA_COUNT)) == -1)
        if vdb_isa_best() < Int32(VDB_ISA_AVX512) { #expect(vdb_isa_set(vdb_isa_best() + 1) == -1) }
        #expect(vdb_isa_active() == before)
        #expect(vdb_isa_set(before) == 0)
        #expect(vdb_isa_active() == before)
        #expect(String(cString: vdb_isa_name(7)) == "unknown")
    }
}
