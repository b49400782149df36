// The size of data.mdb against LMDB's own metadata, read with pread before anything is mapped:
// a file cut short (a partial copy, a truncate, a disk that lost its tail) would otherwise be
// mapped and die with SIGBUS on the first read past its end, and a write would damage it further.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What LMDB's two meta pages say about the data file (see `MDB_meta` in LMDB's mdb.c).
struct LMDBFileFacts: Sendable, Equatable {
    /// Page size the file was written with.
    var pageSize: Int
    /// Last page in use according to the newest meta page.
    var lastPage: UInt64
    /// Transaction id of the newest meta page.
    var transaction: UInt64
    /// Bytes the file must have at least: `(lastPage + 1) * pageSize`.
    var requiredBytes: UInt64
    /// Bytes the file has.
    var fileBytes: UInt64
}

enum DataFileCheck {
    /// Byte offsets inside a meta page (after LMDB's 16-byte page header, on 64-bit builds).
    private static let flagsOffset = 10, magicOffset = 16, pageSizeOffset = 40, lastPageOffset = 136, txnOffset = 144
    private static let metaMagic: UInt32 = 0xBEEF_C0DE
    private static let metaFlag: UInt16 = 0x08  // P_META

    /// Reads the facts of the data file at `path`, or nil when it is absent, empty or not an
    /// LMDB file (LMDB's own open then decides what it is).
    static func facts(_ path: String) throws -> LMDBFileFacts? {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw VDBError.io(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        func page(at offset: Int) -> [UInt8]? {
            var buf = [UInt8](repeating: 0, count: 152)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 152, off_t(offset)) }
            return n == 152 ? buf : nil
        }
        func u16(_ b: [UInt8], _ o: Int) -> UInt16 { b.withUnsafeBytes { UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt16.self)) } }
        func u32(_ b: [UInt8], _ o: Int) -> UInt32 { b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt32.self)) } }
        func u64(_ b: [UInt8], _ o: Int) -> UInt64 { b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) } }
        // The metas are read before the size, so a writer committing meanwhile can only make the
        // file larger than what they require.
        guard let m0 = page(at: 0), u32(m0, magicOffset) == metaMagic, u16(m0, flagsOffset) & metaFlag != 0 else { return nil }
        let pageSize = Int(u32(m0, pageSizeOffset))
        guard pageSize >= 512, pageSize <= 1 << 16, pageSize & (pageSize - 1) == 0 else {
            throw VDBError.corrupt("\(path): LMDB meta page 0 gives page size \(pageSize)")
        }
        var newest = (txn: u64(m0, txnOffset), last: u64(m0, lastPageOffset))
        if let m1 = page(at: pageSize), u32(m1, magicOffset) == metaMagic, u16(m1, flagsOffset) & metaFlag != 0,
           u64(m1, txnOffset) > newest.txn {
            newest = (u64(m1, txnOffset), u64(m1, lastPageOffset))
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw VDBError.io(path: path, message: "cannot stat: \(String(cString: strerror(errno)))") }
        let (pages, o1) = newest.last.addingReportingOverflow(1)
        let (required, o2) = pages.multipliedReportingOverflow(by: UInt64(pageSize))
        return LMDBFileFacts(pageSize: pageSize, lastPage: newest.last, transaction: newest.txn,
                             requiredBytes: o1 || o2 ? .max : required, fileBytes: UInt64(max(0, st.st_size)))
    }

    /// Throws when the data file is shorter than its newest meta page requires.
    /// - Throws: ``VDBError/corrupt(_:)`` saying how short it is; nothing was mapped or written.
    static func check(_ path: String) throws {
        guard let f = try facts(path), f.fileBytes < f.requiredBytes else { return }
        throw VDBError.corrupt("\(path) is \(f.fileBytes) bytes but LMDB's metadata says it holds \(f.lastPage + 1) pages of \(f.pageSize) bytes "
                               + "(\(f.requiredBytes) bytes): the file was truncated; nothing was read or written. Restore it from a backup (vdb backup)")
    }
}
