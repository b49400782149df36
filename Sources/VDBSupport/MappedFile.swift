#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only, private memory map of a whole file (unmapped in `deinit`). An empty file maps
/// to an empty buffer.
package final class MappedFile {
    /// Why a file could not be mapped; `reason` is one line (the `strerror` text or "is a
    /// directory"), each module wraps it in its own error type.
    package struct Failure: Error, Equatable {
        package let path: String
        package let reason: String
        package init(path: String, reason: String) { self.path = path; self.reason = reason }
    }

    package let path: String
    /// The file's bytes, valid while this object lives.
    package let bytes: UnsafeRawBufferPointer

    /// Maps `path`; `sequential` tells the kernel the file will be read front to back.
    package init(path: String, sequential: Bool = false) throws(Failure) {
        self.path = path
        func failure(_ what: String = "") -> Failure {
            Failure(path: path, reason: what + String(cString: strerror(errno)))
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure() }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure() }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw Failure(path: path, reason: "is a directory") }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw failure("cannot map the file: ")
        }
        if sequential { madvise(p, size, MADV_SEQUENTIAL) }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Releases the pages covering `range` from this process (they are file-backed and clean, so
    /// a later read faults them in again), e.g. once a tensor has been converted.
    package func dropPages(_ range: Range<Int>) {
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (max(0, range.lowerBound) / page) * page
        let hi = min(bytes.count, ((range.upperBound + page - 1) / page) * page)
        if hi > lo { _ = madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, Int32(MADV_DONTNEED)) }
    }
}
