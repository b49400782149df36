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

    /// Grows memory from ``allocate(byteCount:hugePages:)`` (or an earlier `grow`) of
    /// `oldByteCount` bytes to `newByteCount` (>= `oldByteCount`), keeping its contents; the new
    /// bytes are zero. The old pointer is invalid afterwards; free the result with
    /// `deallocate(_:byteCount: newByteCount)`.
    ///
    /// On Linux the pages move with `mremap`: nothing is copied and no second buffer exists,
    /// however big the buffer. Growing an opened 1M x 384 HNSW graph by copying it took 5 s (the
    /// kernel clearing 1.7 GB of fresh huge pages, then the copy) and 1.7 GB more memory, all of it
    /// inside the write lock that searches wait on. Elsewhere it allocates, copies and frees.
    package static func grow(_ p: UnsafeMutableRawPointer, from oldByteCount: Int, to newByteCount: Int,
                             hugePages: Bool = true) -> UnsafeMutableRawPointer {
        precondition(oldByteCount > 0 && newByteCount >= oldByteCount, "ZeroedPages.grow: sizes must be positive and growing")
        #if os(Linux)
        if let remap = pageRemap {
            let q = remap(p, oldByteCount, newByteCount, 1)   // MREMAP_MAYMOVE
            if let q, q != MAP_FAILED {
                if hugePages && newByteCount >= hugePageThreshold { _ = madvise(q, newByteCount, MADV_HUGEPAGE) }
                return q
            }
        }
        #endif
        let q = allocate(byteCount: newByteCount, hugePages: hugePages)
        q.copyMemory(from: p, byteCount: oldByteCount)
        deallocate(p, byteCount: oldByteCount)
        return q
    }

    #if os(Linux)
    /// glibc's `mremap`, which the Glibc module leaves out (it is declared for `_GNU_SOURCE`
    /// only): found by name. It is variadic only for a fifth argument that `MREMAP_MAYMOVE`
    /// does not read.
    private typealias Remap = @convention(c) (UnsafeMutableRawPointer?, Int, Int, Int32) -> UnsafeMutableRawPointer?
    private static let pageRemap: Remap? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mremap").map {
        unsafeBitCast($0, to: Remap.self)
    }
    #endif

    /// Returns memory from ``allocate(byteCount:hugePages:)`` with the same `byteCount`.
    package static func deallocate(_ p: UnsafeMutableRawPointer, byteCount: Int) {
        munmap(p, byteCount)
    }
}
