#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Zero-filled, page-aligned memory straight from `mmap`: the kernel hands out zero pages on
/// first touch, so a large buffer costs nothing until it is written, and the faults of filling it
/// fall on whichever threads write it. (`allocate` + `initialize(repeating: 0)` zeroes every
/// page on the calling thread first: half of the time of opening a 1M x 384 HNSW index.)
package enum ZeroedPages {
    /// Allocations from this size on ask for transparent huge pages.
    package static let hugePageThreshold = 8 << 20

    /// `byteCount` (> 0) zeroed bytes, aligned to the page size; free with ``deallocate(_:byteCount:)``.
    /// `hugePages` asks for transparent huge pages from ``hugePageThreshold`` on: worth it for
    /// randomly accessed arrays (an HNSW graph), not for data read front to back, where the
    /// kernel's clearing of 2 MiB pages on first touch can cost more than the TLB misses save.
    package static func allocate(byteCount: Int, hugePages: Bool = true) -> UnsafeMutableRawPointer {
        precondition(byteCount > 0, "ZeroedPages.allocate: byteCount must be positive")
        guard let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else {
            fatalError("out of memory: mmap of \(byteCount) bytes failed (errno \(errno))")
        }
        #if os(Linux)
        // Transparent huge pages where the system allows them on request (THP "madvise" mode):
        // fewer TLB misses for big randomly accessed arrays such as an HNSW graph.
        if hugePages && byteCount >= hugePageThreshold { _ = madvise(p, byteCount, MADV_HUGEPAGE) }
        #endif
        return p
    }

    /// Returns memory from ``allocate(byteCount:hugePages:)`` with the same `byteCount`.
    package static func deallocate(_ p: UnsafeMutableRawPointer, byteCount: Int) {
        munmap(p, byteCount)
    }
}
