import VDBSupport

/// One metadata value: a string, a 64-bit integer, a double or a boolean.
public enum MetadataValue: Sendable, Hashable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral
{
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        }
    }

    /// The string payload, if this is a string.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The integer payload, if this is an integer.
    public var intValue: Int64? { if case .int(let i) = self { return i } else { return nil } }
    /// The numeric payload as a double (integers convert), if numeric.
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }
    /// The boolean payload, if this is a boolean.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
}

/// Metadata of one vector: string keys to values.
public typealias Metadata = [String: MetadataValue]

/// Compact binary encoding of metadata, stored per id:
/// `u16 count`, then per entry (keys sorted): `u16 key length, key UTF-8, u8 tag, payload`
/// with tag 0 string (`u32 length` + UTF-8), 1 int (i64 LE), 2 double (f64 bits LE), 3 bool (u8).
enum MetadataCodec {
    static func encode(_ m: Metadata) throws -> [UInt8] {
        guard m.count <= Int(UInt16.max) else { throw VDBError.invalidArgument("metadata has more than 65535 keys") }
        var out: [UInt8] = []
        out.reserveCapacity(16 * m.count + 2)
        appendLE(&out, UInt16(m.count))
        for key in m.keys.sorted() {
            let k = Array(key.utf8)
            guard k.count <= Int(UInt16.max) else { throw VDBError.invalidArgument("metadata key longer than 65535 bytes") }
            appendLE(&out, UInt16(k.count))
            out += k
            switch m[key]! {
            case .string(let s):
                let b = Array(s.utf8)
                guard b.count <= Int(UInt32.max) else { throw VDBError.invalidArgument("metadata value too long") }
                out.append(0); appendLE(&out, UInt32(b.count)); out += b
            case .int(let i):
                out.append(1); appendLE(&out, UInt64(bitPattern: i))
            case .double(let d):
                out.append(2); appendLE(&out, d.bitPattern)
            case .bool(let b):
                out.append(3); out.append(b ? 1 : 0)
            }
        }
        return out
    }

    static func decode(_ buf: UnsafeRawBufferPointer) throws -> Metadata {
        var r = ByteCursor(storedRecord: buf)
        let n = Int(try r.read(UInt16.self))
        var m = Metadata(minimumCapacity: n)
        for _ in 0..<n {
            let kl = Int(try r.read(UInt16.self))
            let key = try r.string(kl)
            switch try r.read(UInt8.self) {
            case 0: m[key] = .string(try r.string(Int(try r.read(UInt32.self))))
            case 1: m[key] = .int(Int64(bitPattern: try r.read(UInt64.self)))
            case 2: m[key] = .double(Double(bitPattern: try r.read(UInt64.self)))
            case 3: m[key] = .bool(try r.read(UInt8.self) != 0)
            case let t: throw VDBError.corrupt("unknown metadata tag \(t)")
            }
        }
        return m
    }

    /// The values of the keys `wanted` (UTF-8 bytes; indexes into it are reported) holds, decoding
    /// only those: `body(index, value)` for each key present.
    static func forEachValue(_ buf: UnsafeRawBufferPointer, of wanted: [[UInt8]],
                             _ body: (_ index: Int, _ value: MetadataValue) throws -> Void) throws {
        var r = ByteCursor(storedRecord: buf)
        let n = Int(try r.read(UInt16.self))
        for _ in 0..<n {
            let key = try r.bytes(Int(try r.read(UInt16.self)))
            let index = wanted.firstIndex { $0.count == key.count && $0.withUnsafeBytes { key.elementsEqual($0) } }
            let tag = try r.read(UInt8.self)
            guard let index else {
                switch tag {
                case 0: _ = try r.bytes(Int(try r.read(UInt32.self)))
                case 1, 2: _ = try r.bytes(8)
                case 3: _ = try r.bytes(1)
                default: throw VDBError.corrupt("unknown metadata tag \(tag)")
                }
                continue
            }
            switch tag {
            case 0: try body(index, .string(try r.string(Int(try r.read(UInt32.self)))))
            case 1: try body(index, .int(Int64(bitPattern: try r.read(UInt64.self))))
            case 2: try body(index, .double(Double(bitPattern: try r.read(UInt64.self))))
            case 3: try body(index, .bool(try r.read(UInt8.self) != 0))
            default: throw VDBError.corrupt("unknown metadata tag \(tag)")
            }
        }
    }
}

@inline(__always)
func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
    withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
}

@inline(__always)
func appendBE<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
    withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
}

extension ByteCursor {
    /// A bounds-checked little-endian reader over a stored record (a short one is `VDBError.corrupt`).
    init(storedRecord buf: UnsafeRawBufferPointer) {
        self.init(buf) { _ in VDBError.corrupt("record truncated") }
    }
}
