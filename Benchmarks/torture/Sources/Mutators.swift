// Deterministic input mutations for the fuzz corpus: byte-level (bit flips, runs, truncation,
// insertion, duplication) and structure-aware (JSON values, binary header fields, text lines),
// all drawing hostile values from one pool (sizes near 2^31, 2^32, 2^63, negatives, fractions,
// wrong types).
import Foundation
import VDBSupport

struct Mutator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func int(_ n: Int) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { int(100) < percent }

    /// Hostile integers for sizes, counts, offsets and ids.
    static let hostileIntegers: [Int64] = [0, -1, 1, 2, 3, 7, 255, 256, 4096, 65535, 65536, 1 << 20, Int64(Int32.max), 1 << 31,
                                           (1 << 32) - 1, 1 << 32, 1 << 40, (1 << 53) + 1, Int64.max, Int64.min, -(1 << 31)]
    /// Hostile JSON values of every type.
    static let hostileJSON: [String] = ["0", "-1", "1.5", "-0.5", "2.0", "1e308", "-1e308", "1e39", "3.4e38", "1e-45", "4294967296",
                                        "9223372036854775807", "18446744073709551615", "18446744073709551616", "-9223372036854775808",
                                        "2147483648", "null", "true", "false", "\"\"", "\"x\"", "\"1\"", "[]", "[1]", "[[]]", "{}",
                                        "{\"a\": 1}", "\"\\u0000\"", "[1, -1]", "[0, 0]", "[4294967296, 4294967296]", "[1.5]"]

    mutating func hostileInteger() -> Int64 { Self.hostileIntegers[int(Self.hostileIntegers.count)] }

    // MARK: bytes

    /// One byte-level mutation of `b` after its first `protectHead` bytes; with `keepSize`, only
    /// mutations that keep the length (flips, runs, hostile integers and floats, random bytes).
    mutating func bytes(_ input: [UInt8], protectHead: Int = 0, keepSize: Bool = false) -> [UInt8] {
        var b = input
        if b.isEmpty { return [UInt8(truncatingIfNeeded: rng.next())] }
        let lo = min(protectHead, b.count - 1)
        func at() -> Int { lo + int(b.count - lo) }
        let sizeKeeping = [0, 2, 6, 7, 8]
        switch keepSize ? sizeKeeping[int(sizeKeeping.count)] : int(9) {
        case 0: for _ in 0..<(1 + int(8)) { b[at()] ^= UInt8(1 << int(8)) }                  // bit flips
        case 1: b = Array(b.prefix(int(b.count)))                                            // truncate
        case 2:                                                                              // runs of 0x00 / 0xFF
            let s = at(); let fill: UInt8 = chance(50) ? 0xFF : 0
            for i in s..<min(b.count, s + 1 + int(64)) { b[i] = fill }
        case 3: b.insert(contentsOf: (0..<(1 + int(32))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at())  // insert garbage
        case 4:                                                                              // duplicate a slice
            let s = at(), e = min(b.count, s + 1 + int(256))
            b.insert(contentsOf: b[s..<e], at: at())
        case 5:                                                                              // delete a slice
            let s = at(); b.removeSubrange(s..<min(b.count, s + 1 + int(64)))
        case 6:                                                                              // a hostile 32-bit integer
            let s = at(); var v = UInt32(truncatingIfNeeded: hostileInteger())
            if chance(50) { v = v.byteSwapped }
            withUnsafeBytes(of: v) { for (i, x) in $0.enumerated() where s + i < b.count { b[s + i] = x } }
        case 7:                                                                              // NaN / infinity float
            let s = at(); let f: Float = [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -0.0][int(5)]
            withUnsafeBytes(of: f.bitPattern.littleEndian) { for (i, x) in $0.enumerated() where s + i < b.count { b[s + i] = x } }
        default: for _ in 0..<(1 + int(4)) { b[at()] = UInt8(truncatingIfNeeded: rng.next()) }   // random bytes
        }
        return b
    }

    // MARK: JSON

    /// Replaces, deletes or retypes one value somewhere in a JSON document, then re-serializes;
    /// falls back to a byte mutation of the text (broken JSON) one time in five.
    mutating func json(_ text: String) -> String {
        if chance(20) { return String(decoding: bytes(Array(text.utf8)), as: UTF8.self) }
        guard var root = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else { return text }
        for _ in 0..<(1 + int(3)) { root = mutateNode(root, depth: 0) }
        guard let data = try? JSONSerialization.data(withJSONObject: root, options: [.fragmentsAllowed]) else { return text }
        var out = String(decoding: data, as: UTF8.self)
        // JSONSerialization cannot write some hostile values (1e39, 2^64): splice a literal in.
        if chance(30), let r = out.range(of: #"-?\d+(\.\d+)?([eE][-+]?\d+)?"#, options: .regularExpression) {
            out.replaceSubrange(r, with: Self.hostileJSON[int(Self.hostileJSON.count)])
        }
        return out
    }

    private mutating func mutateNode(_ node: Any, depth: Int) -> Any {
        if var d = node as? [String: Any], !d.isEmpty {
            let keys = d.keys.sorted()
            let k = keys[int(keys.count)]
            switch int(depth > 3 ? 3 : 5) {
            case 0: d[k] = hostileValue()
            case 1: d.removeValue(forKey: k)
            case 2: d[k + "_x"] = hostileValue()
            default: d[k] = mutateNode(d[k]!, depth: depth + 1)
            }
            return d
        }
        if var a = node as? [Any], !a.isEmpty {
            let i = int(a.count)
            switch int(depth > 3 ? 3 : 5) {
            case 0: a[i] = hostileValue()
            case 1: a.remove(at: i)
            case 2: a.append(hostileValue())
            default: a[i] = mutateNode(a[i], depth: depth + 1)
            }
            return a
        }
        return hostileValue()
    }

    mutating func hostileValue() -> Any {
        let text = Self.hostileJSON[int(Self.hostileJSON.count)]
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? NSNull()
    }

    // MARK: lines

    /// Deletes, duplicates, swaps or garbles lines (or empties the file).
    mutating func lines(_ text: String) -> String {
        var l = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if l.isEmpty || chance(5) { return chance(50) ? "" : "\n" }
        for _ in 0..<(1 + int(4)) {
            let i = int(l.count)
            switch int(6) {
            case 0: l.remove(at: i)
            case 1: l.insert(l[i], at: int(l.count))
            case 2: l.swapAt(i, int(l.count))
            case 3: l[i] = String(decoding: bytes(Array(l[i].utf8)), as: UTF8.self)
            case 4: l[i] = json(l[i])
            default: l = Array(l.prefix(i))
            }
            if l.isEmpty { break }
        }
        return l.joined(separator: "\n")
    }
}

/// PNG chunks carry a CRC-32 each: after a mutation, recompute them (most of the time) so that
/// the decoder gets past its CRC check into the chunk contents.
enum PNGChunks {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }

    /// `png` with every complete chunk's CRC rewritten.
    static func fixCRCs(_ png: [UInt8]) -> [UInt8] {
        var b = png
        var i = 8
        while i + 12 <= b.count {
            let len = Int(UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3]))
            guard len <= b.count - i - 12 else { break }
            let c = crc(b[(i + 4)..<(i + 8 + len)])
            for k in 0..<4 { b[i + 8 + len + k] = UInt8((c >> (24 - 8 * UInt32(k))) & 0xFF) }
            i += 12 + len
        }
        return b
    }
}
