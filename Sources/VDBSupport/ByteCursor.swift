/// Reads little-endian values from a byte buffer front to back with bounds checks, so a short
/// record is an error, not a crash. The error for a short read comes from `truncated`, given by
/// the owner (each module reports it in its own error type, naming the record).
package struct ByteCursor {
    /// What a read needed when it ran past the end.
    package struct Truncation {
        /// Bytes the read needed at `offset`.
        package let needed: Int
        package let offset: Int
        /// Size of the whole buffer.
        package let count: Int
        /// "need 8 bytes at offset 12, record has 16".
        package var description: String { "need \(needed) bytes at offset \(offset), record has \(count)" }
    }

    package let buffer: UnsafeRawBufferPointer
    package var offset = 0
    private let truncated: (Truncation) -> any Error

    package init(_ buffer: UnsafeRawBufferPointer, truncated: @escaping (Truncation) -> any Error) {
        self.buffer = buffer
        self.truncated = truncated
    }

    package var remaining: Int { buffer.count - offset }

    /// Throws unless `n` more bytes are available.
    package func need(_ n: Int) throws {
        guard n >= 0, n <= buffer.count - offset else {
            throw truncated(Truncation(needed: n, offset: offset, count: buffer.count))
        }
    }
    package mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        let v = buffer.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }
    package mutating func readFloat() throws -> Float { Float(bitPattern: try read(UInt32.self)) }
    /// The next `n` bytes, advancing past them.
    package mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        try need(n)
        let r = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)])
        offset += n
        return r
    }
    /// The next `n` bytes decoded as UTF-8.
    package mutating func string(_ n: Int) throws -> String {
        String(decoding: try bytes(n), as: UTF8.self)
    }
    /// Copies the next `n` floats into `dst`.
    package mutating func copyFloats(_ n: Int, to dst: UnsafeMutablePointer<Float>) throws {
        let (byteCount, overflow) = n.multipliedReportingOverflow(by: 4)
        if overflow { try need(-1) }
        let b = try bytes(byteCount)
        if n > 0 { UnsafeMutableRawPointer(dst).copyMemory(from: b.baseAddress!, byteCount: byteCount) }
    }
}
