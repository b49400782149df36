import CVDBKernels
import Foundation

/// Process and file-system measurements used by the benchmark harness and the benchmark
/// executables: clocks, resident memory (Linux `/proc`), bytes on disk.
public enum BenchSystem {
    /// OpenBLAS's kernel family (e.g. "Cooperlake"; OPENBLAS_CORETYPE overrides it) and vdb's own
    /// kernel level (e.g. "avx512"): what a benchmark's products and distances ran on.
    public static var kernels: (blas: String, vdb: String) {
        (String(cString: vdb_blas_core()), String(cString: vdb_isa_name(vdb_isa_active())))
    }

    /// Resident memory of this process, from `/proc/self/status`.
    struct Memory: Sendable, Equatable {
        /// Current resident set size in bytes (`VmRSS`).
        var residentBytes: Int
        /// Peak resident set size in bytes since the process started (`VmHWM`).
        var peakResidentBytes: Int
    }

    /// Reads `VmRSS` and `VmHWM` from `/proc/self/status`; nil where `/proc` is unavailable.
    static func memory() -> Memory? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return parseStatus(text)
    }

    /// Parses the `VmRSS:` and `VmHWM:` lines (values in kB) of a `/proc/<pid>/status` text.
    static func parseStatus(_ text: String) -> Memory? {
        var rss: Int?, hwm: Int?
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kb = Int(parts[1]) else { continue }
            if parts[0] == "VmRSS:" { rss = kb * 1024 } else if parts[0] == "VmHWM:" { hwm = kb * 1024 }
        }
        guard let rss, let hwm else { return nil }
        return Memory(residentBytes: rss, peakResidentBytes: hwm)
    }

    /// Bytes the files under `path` (a file or a directory, recursively) occupy on disk:
    /// allocated blocks, so sparse regions of a memory-mapped database file do not count.
    static func bytesOnDisk(_ path: String) throws(BenchError) -> Int {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw .io(path: path, reason: "cannot stat (\(String(cString: strerror(errno))))")
        }
        if (st.st_mode & S_IFMT) != S_IFDIR { return Int(st.st_blocks) * 512 }
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw .io(path: path, reason: "cannot list directory (\(error.localizedDescription))")
        }
        var total = 0
        for e in entries { total += try bytesOnDisk(path + "/" + e) }
        return total
    }

    /// A monotonic timestamp in nanoseconds.
    @inline(__always)
    public static func nanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// CPU time (user + system) this process has used so far, in seconds, summed over its
    /// threads: queries per CPU-second stay comparable when other processes share the machine.
    public static func cpuSeconds() -> Double {
        var ts = timespec()
        guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0 else { return .nan }
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Peak resident set size of this process in bytes (`getrusage`), also where `/proc` is absent.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if canImport(Glibc)
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        let (bytes, overflow) = Int(usage.ru_maxrss).multipliedReportingOverflow(by: 1024)  // Linux: kilobytes
        return overflow ? Int.max : bytes
        #else
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss)  // Darwin: bytes
        #endif
    }
}

