/// Converts `count` little-endian IEEE 754 binary16 values at `source` (any alignment) to Float.
@inline(__always)
package func convertHalfToFloat(_ source: UnsafeRawPointer, count: Int, to destination: UnsafeMutablePointer<Float>) {
    for i in 0..<count {
        let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        destination[i] = Float(Float16(bitPattern: bits))
    }
}
