import Foundation

/// A forward-only reader of one JSON document (RFC 8259), for the request bodies on the search
/// hot path. A search body is mostly an array of a few hundred numbers, which Foundation's
/// `JSONDecoder` decodes through one generic container call per element: two thirds of a
/// vector search's server time went there. This reader turns the array into `[Float]` in one
/// pass, with the same strictness (no trailing commas, no comments, no leading zeros, no
/// unescaped control characters, valid UTF-8) and errors that name the byte and the field.
///
/// It reads the request's own bytes (inside `ByteBuffer.withUnsafeReadableBytes`, which outlives
/// the reader); it never copies the body.
struct JSONReader: ~Copyable {
    private let bytes: UnsafeRawBufferPointer
    private(set) var position = 0
    /// Where ``floatArray(_:)`` collects numbers before making the array (one copy at the end
    /// instead of an `append` per number, each checking capacity and uniqueness); kept for the
    /// next array (the vectors of a batch) and freed with the reader.
    private var floats: UnsafeMutableBufferPointer<Float> = .init(start: nil, count: 0)
    /// Nesting limit for skipped values (a body is a few levels deep; this keeps recursion bounded).
    static let maxDepth = 256

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    deinit { floats.deallocate() }

    // MARK: errors

    /// A syntax error at the current byte.
    func malformed(_ what: String) -> ServerError {
        let found = position < bytes.count ? "'\(Self.printable(bytes[position]))'" : "the end of the body"
        return .badJSON("malformed JSON at byte \(position): \(what), found \(found)")
    }

    /// A well-formed value of the wrong type (the message reads like ``ServerError/describe(_:)``'s).
    func mismatch(_ field: String, expected: String) -> ServerError {
        .badJSON("'\(field)' has the wrong type, expected \(expected)")
    }

    private static func printable(_ b: UInt8) -> String {
        (0x20..<0x7f).contains(b) ? String(UnicodeScalar(b)) : String(format: "\\x%02x", b)
    }

    // MARK: structure

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0a, 0x0d: position += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard peek() == byte else { throw malformed("expected \(what)") }
        position += 1
    }

    /// Consumes `{`; then call ``nextKey(_:)`` with a `first` flag set to true until it returns nil:
    ///
    ///     try reader.beginObject("params")
    ///     var first = true
    ///     while let key = try reader.nextKey(&first) { ... consume the value ... }
    mutating func beginObject(_ field: String) throws {
        guard peek() == UInt8(ascii: "{") else { throw mismatchOrMalformed(field, expected: "an object") }
        position += 1
    }

    /// The next key of the current object (its `:` consumed; the caller must consume the value),
    /// or nil after the closing `}`.
    mutating func nextKey(_ first: inout Bool) throws -> String? {
        if first {
            first = false
            if peek() == UInt8(ascii: "}") { position += 1; return nil }
        } else {
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return nil
            default: throw malformed("expected ',' or '}' after an object member")
            }
        }
        guard peek() == UInt8(ascii: "\"") else { throw malformed("expected a quoted object key") }
        let key = try string()
        try expect(UInt8(ascii: ":"), "':' after an object key")
        return key
    }

    /// Consumes `[`; then call ``nextItem(_:)`` with a `first` flag set to true while it returns
    /// true, reading one value each time.
    mutating func beginArray(_ field: String) throws {
        guard peek() == UInt8(ascii: "[") else { throw mismatchOrMalformed(field, expected: "an array") }
        position += 1
    }

    /// Whether another element of the current array follows (its `,` consumed); false after `]`.
    mutating func nextItem(_ first: inout Bool) throws -> Bool {
        if first {
            first = false
            if peek() == UInt8(ascii: "]") { position += 1; return false }
            return true
        }
        switch peek() {
        case UInt8(ascii: ","): position += 1; return true
        case UInt8(ascii: "]"): position += 1; return false
        default: throw malformed("expected ',' or ']' in an array")
        }
    }

    /// Consumes `null` if it is next; true when it did.
    mutating func null() -> Bool {
        guard peek() == UInt8(ascii: "n"), literal("null") else { return false }
        return true
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard bytes.count - position >= n else { return false }
        for i in 0..<n where bytes[position + i] != word.utf8Start[i] { return false }
        position += n
        return true
    }

    /// Ends the document: only whitespace may follow.
    mutating func end() throws {
        skipWhitespace()
        guard position == bytes.count else { throw malformed("expected the end of the body") }
    }

    /// A type mismatch when the next byte starts another JSON value, else a syntax error.
    private mutating func mismatchOrMalformed(_ field: String, expected: String) -> ServerError {
        switch peek() ?? 0 {
        case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "\""), UInt8(ascii: "t"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return mismatch(field, expected: expected)
        default:
            return malformed(field.isEmpty ? "expected a value" : "expected a value for '\(field)'")
        }
    }

    // MARK: scalars

    mutating func bool(_ field: String) throws -> Bool {
        switch peek() {
        case UInt8(ascii: "t") where literal("true"): return true
        case UInt8(ascii: "f") where literal("false"): return false
        default: throw mismatchOrMalformed(field, expected: "true or false")
        }
    }

    /// A string value, escapes decoded.
    mutating func string(_ field: String = "") throws -> String {
        guard peek() == UInt8(ascii: "\"") else { throw mismatchOrMalformed(field, expected: "a string") }
        position += 1
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
                position += 1
                guard let s = String(validating: raw, as: UTF8.self) else { throw ServerError.badJSON("'\(field)': the string is not valid UTF-8") }
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw malformed("unescaped control character in a string") }
            position += 1
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
        while position < bytes.count {
            let b = bytes[position]
            position += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw ServerError.badJSON("'\(field)': the string is not valid UTF-8") }
                return s
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { break }
                let e = bytes[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xd800..<0xdc00).contains(scalar) {
                        guard literal("\\u") else { throw malformed("a high surrogate must be followed by a \\u low surrogate") }
                        let low = try hex4()
                        guard (0xdc00..<0xe000).contains(low) else { throw malformed("invalid low surrogate") }
                        scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                    } else if (0xdc00..<0xe000).contains(scalar) {
                        throw malformed("a lone low surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw malformed("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    position -= 1
                    throw malformed("invalid escape in a string")
                }
            default:
                if b < 0x20 { position -= 1; throw malformed("unescaped control character in a string") }
                out.append(b)
            }
        }
        throw malformed("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - position >= 4 else { throw malformed("a \\u escape needs four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw malformed("a \\u escape needs four hex digits")
            }
            v = v << 4 | UInt32(d)
            position += 1
        }
        return v
    }

    /// The bytes of the number token at the current position (validated against JSON's grammar),
    /// and whether it is an integer (no fraction, no exponent).
    private mutating func numberToken(_ field: @autoclosure () -> String, expected: String) throws -> (Range<Int>, integer: Bool) {
        guard let first = peek(), first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw mismatchOrMalformed(field(), expected: expected)
        }
        let start = position
        var integer = true
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        func digits(_ r: inout JSONReader) -> Int {
            let s = r.position
            while r.position < r.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(r.bytes[r.position]) { r.position += 1 }
            return r.position - s
        }
        let leading = position
        let intDigits = digits(&self)
        guard intDigits > 0 else { throw malformed("expected digits in a number") }
        if intDigits > 1, bytes[leading] == UInt8(ascii: "0") {
            position = leading + 1
            throw malformed("a number cannot have a leading zero")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            integer = false
            position += 1
            guard digits(&self) > 0 else { throw malformed("expected digits after the decimal point") }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            integer = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits(&self) > 0 else { throw malformed("expected digits in the exponent") }
        }
        return (start..<position, integer)
    }

    /// A number as a 32-bit float (correctly rounded). A number beyond Float's range is an error.
    mutating func float(_ field: @autoclosure () -> String) throws -> Float {
        if let v = plainFloat() { return v }
        let (range, _) = try numberToken(field(), expected: "a number")
        if let exact = shortFloat(range) { return exact }
        let value = withCString(range) { strtof($0, nil) }
        guard value.isFinite else { throw ServerError.badJSON("'\(field())': the number does not fit in a 32-bit float") }
        return value
    }

    /// The common case in one pass: an optional `-`, an integer part without a leading zero, an
    /// optional fraction, no exponent, at most 19 significant digits, at most 22 of them after
    /// the point (JSON numbers as numpy and JavaScript print floats: "-0.108528",
    /// "0.016539206728339195"). Returns nil without consuming anything otherwise; `float`
    /// then takes the general path, which also reports errors.
    ///
    /// Numbers with at most 7 digits on each side of the point and a value below 2^24 once the
    /// point is dropped ("-0.108528": most vectors sent as text) are read in a fixed sequence of
    /// steps: each side is one ``digitChunk(_:_:)`` and the value one Clinger division. A batch
    /// search body is 38,400 such numbers; reading them a digit at a time, with a branch per digit
    /// and per sign that the CPU cannot predict, took 16 ns a number and 7.6% of the server's CPU
    /// under the `search/batch` load test.
    private mutating func plainFloat() -> Float? {
        skipWhitespace()
        let end = bytes.count
        guard position < end else { return nil }
        let negative = bytes[position] == UInt8(ascii: "-")
        var i = position &+ (negative ? 1 : 0)
        let (whole, wholeDigits) = digitChunk(i, end)
        // Integer part: "0", or up to 7 digits not starting with 0.
        guard wholeDigits > 0, wholeDigits < 8, wholeDigits == 1 || bytes[i] != UInt8(ascii: "0") else {
            return wholeDigits == 8 ? longPlainFloat() : nil
        }
        i &+= wholeDigits
        var mantissa = whole
        var fractionDigits = 0
        if i < end, bytes[i] == UInt8(ascii: ".") {
            let (fraction, n) = digitChunk(i &+ 1, end)
            guard n > 0 else { return nil }  // "1." is not JSON
            guard n < 8 else { return longPlainFloat() }
            mantissa = mantissa &* Self.chunkScale[n] &+ fraction
            fractionDigits = n
            i &+= 1 &+ n
        }
        guard i >= end || bytes[i] | 0x20 != UInt8(ascii: "e") else { return nil }
        // Both operands exact (mantissa <= 2^24, 10^n for n <= 7): one correctly rounded division.
        guard mantissa <= 1 << 24 else { return longPlainFloat() }
        let magnitude = Float(UInt32(truncatingIfNeeded: mantissa)) / Self.powersOfTen[fractionDigits]
        position = i
        return Float(bitPattern: magnitude.bitPattern | (negative ? 0x8000_0000 : 0))
    }

    /// ``plainFloat()`` for longer numbers, a digit at a time (up to 19 significant digits).
    private mutating func longPlainFloat() -> Float? {
        var i = position
        let end = bytes.count
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var mantissa: UInt64 = 0
        var significant = 0
        var scale = 0
        // Integer part: "0", or digits not starting with 0.
        let intStart = i
        let intDigits = digits(&i, end, &mantissa, &significant)
        guard intDigits > 0, intDigits == 1 || bytes[intStart] != UInt8(ascii: "0") else { return nil }
        if i < end, bytes[i] == UInt8(ascii: ".") {
            i += 1
            scale = -digits(&i, end, &mantissa, &significant)
            guard scale < 0 else { return nil }
        }
        // An exponent, or more digits than a UInt64 holds exactly: the general path.
        guard significant <= 19, scale >= -22, i >= end || bytes[i] | 0x20 != UInt8(ascii: "e") else { return nil }
        guard let magnitude = Self.fastMagnitude(mantissa, significant: significant, scale: scale) else { return nil }
        position = i
        return negative ? -magnitude : magnitude
    }

    private static let hundredsAndMillions: UInt64 = 100 + (1_000_000 << 32)
    private static let onesAndTenThousands: UInt64 = 1 + (10_000 << 32)

    /// 10^n for a chunk of n digits.
    private static let chunkScale: [UInt64] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]

    /// The run of up to 8 ASCII digits starting at byte `i` (stopping before `end`): their value
    /// and how many there are. Where 8 bytes remain it reads them as one word (SWAR, the method
    /// of simdjson and fast_float): it finds the first byte that is not a digit, shifts the
    /// digits before it to the top, and combines them in three multiplications.
    @inline(__always)
    private func digitChunk(_ i: Int, _ end: Int) -> (value: UInt64, count: Int) {
        guard end - i >= 8 else {
            var value: UInt64 = 0
            var j = i
            while j < end, j - i < 8, bytes[j] &- UInt8(ascii: "0") < 10 {
                value = value &* 10 &+ UInt64(bytes[j] &- UInt8(ascii: "0"))
                j += 1
            }
            return (value, j - i)
        }
        // The first string byte is the word's lowest. A byte is a digit when its high nibble is
        // 3 both before and after adding 6; carries and borrows only move towards later bytes,
        // so every byte up to the first non-digit is tested and converted exactly.
        let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        let nibbles = (word & 0xF0F0_F0F0_F0F0_F0F0) | (((word &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4)
        let count = (nibbles ^ 0x3333_3333_3333_3333).trailingZeroBitCount >> 3
        guard count > 0 else { return (0, 0) }
        // The digits' values in the top `count` bytes, zeros below: "000ddddd" read as 8 digits.
        var d = (word &- 0x3030_3030_3030_3030) &<< UInt64(64 - 8 * count)
        d = d &* 10 &+ (d >> 8)  // pairs: each 16-bit lane's low byte holds 10 x first + second
        let mask: UInt64 = 0x0000_00FF_0000_00FF
        let quads = (d & mask) &* Self.hundredsAndMillions
        let rest = ((d >> 16) & mask) &* Self.onesAndTenThousands
        return ((quads &+ rest) >> 32, count)
    }

    /// Reads the decimal digits from `i` up to `end` into `mantissa` (wrapping past 19 significant
    /// digits: callers check `significant`, which counts the digits from the first non-zero one)
    /// and returns how many it read.
    @inline(__always)
    private func digits(_ i: inout Int, _ end: Int, _ mantissa: inout UInt64, _ significant: inout Int) -> Int {
        let start = i
        while i < end, bytes[i] &- UInt8(ascii: "0") < 10 {
            let d = UInt64(bytes[i] &- UInt8(ascii: "0"))
            if mantissa != 0 || d != 0 { significant += 1 }
            mantissa = mantissa &* 10 &+ d
            i += 1
        }
        return i - start
    }

    /// `mantissa` x 10^`scale` as the nearest Float, when that can be computed without `strtof`
    /// (scale in -22...0). Up to 7 significant digits and 10 fraction digits: Clinger's fast path
    /// in Float arithmetic (both operands exact, one rounding). Otherwise in Double: the product
    /// is within 1 ulp of Double (exact operands when the mantissa is below 2^53, then one
    /// rounding), and rounding that Double to Float gives the correctly rounded Float unless it
    /// lies within that error of a point halfway between two Floats; then nil.
    @inline(__always)
    static func fastMagnitude(_ mantissa: UInt64, significant: Int, scale: Int) -> Float? {
        if mantissa == 0 { return 0 }
        if significant <= 7 && scale >= -10 {
            return Float(mantissa) / powersOfTen[-scale]
        }
        let exact = mantissa <= 1 << 53
        let d = Double(mantissa) / doublePowersOfTen[-scale]
        // Float's normal range (a smaller value is at least 1e-22; a larger one would be at most
        // 1e19, far inside), so Float(d) neither overflows nor goes subnormal.
        let low = Int(d.bitPattern & ((1 << 29) - 1))   // the bits Float drops
        let fromHalfway = abs(low - (1 << 28))
        guard exact ? fromHalfway > 0 : fromHalfway > 4 else { return nil }
        return Float(d)
    }

    private static let doublePowersOfTen: [Double] = (0...22).map { p in (0..<p).reduce(1.0) { r, _ in r * 10 } }

    /// Clinger's fast path: a number of at most 7 significant digits (so its digits are exactly a
    /// Float) and a power of ten within 10^±10 (also exact) is one correctly rounded
    /// multiplication or division. Most vectors sent as text look like this ("-0.108528"); the
    /// others go through `strtof`.
    private func shortFloat(_ range: Range<Int>) -> Float? {
        var i = range.lowerBound
        let end = range.upperBound
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var mantissa: UInt64 = 0
        var significant = 0
        _ = digits(&i, end, &mantissa, &significant)
        var scale = 0
        if i < end, bytes[i] == UInt8(ascii: ".") {
            i += 1
            scale = -digits(&i, end, &mantissa, &significant)
        }
        guard significant <= 7 else { return nil }
        if i < end {  // the exponent (validated by numberToken)
            i += 1
            var negativeExponent = false
            if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { negativeExponent = bytes[i] == UInt8(ascii: "-"); i += 1 }
            var e = 0
            while i < end {
                e = e * 10 + Int(bytes[i] - UInt8(ascii: "0"))
                guard e <= 100 else { return nil }
                i += 1
            }
            scale += negativeExponent ? -e : e
        }
        if mantissa == 0 { return negative ? -0.0 : 0 }
        guard (-10...10).contains(scale) else { return nil }
        let m = Float(mantissa)
        let v = scale >= 0 ? m * Self.powersOfTen[scale] : m / Self.powersOfTen[-scale]
        return negative ? -v : v
    }

    private static let powersOfTen: [Float] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10]

    /// A number as a Double.
    mutating func double(_ field: String) throws -> Double {
        let (range, _) = try numberToken(field, expected: "a number")
        let value = withCString(range) { strtod($0, nil) }
        guard value.isFinite else { throw ServerError.badJSON("'\(field)': the number does not fit in a 64-bit float") }
        return value
    }

    /// An integer (no fraction or exponent) that fits `T`.
    mutating func integer<T: FixedWidthInteger>(_ field: String, as _: T.Type = T.self) throws -> T {
        let (range, integer) = try numberToken(field, expected: "an integer")
        guard integer else { throw mismatch(field, expected: "an integer") }
        let text = UnsafeRawBufferPointer(rebasing: bytes[range])
        guard let v = T(String(decoding: text, as: UTF8.self)) else {
            throw ServerError.badJSON("'\(field)': \(String(decoding: text, as: UTF8.self)) does not fit in \(T.bitWidth)-bit \(T.isSigned ? "signed" : "unsigned") integer")
        }
        return v
    }

    /// Runs `body` on a NUL-terminated copy of `range` (a number token; short ones on the stack).
    private func withCString<R>(_ range: Range<Int>, _ body: (UnsafePointer<CChar>) -> R) -> R {
        let n = range.count
        if n < 64 {
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buf in
                for i in 0..<n { buf[i] = CChar(bitPattern: bytes[range.lowerBound + i]) }
                buf[n] = 0
                return body(buf.baseAddress!)
            }
        }
        var copy = [CChar](repeating: 0, count: n + 1)
        for i in 0..<n { copy[i] = CChar(bitPattern: bytes[range.lowerBound + i]) }
        return copy.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// An array of numbers as `[Float]`.
    mutating func floatArray(_ field: String) throws -> [Float] {
        guard peek() == UInt8(ascii: "[") else { throw mismatchOrMalformed(field, expected: "an array of numbers") }
        position += 1
        var count = 0
        var first = true
        guard try nextItem(&first) else { return [] }
        while true {
            if count == floats.count {
                // Doubling; a number and its comma take 2 bytes or more, so the room never passes
                // twice what the body could hold (a body is at most --max-body bytes).
                let grown = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(64, 2 * floats.count))
                if count > 0 { _ = grown.initialize(fromContentsOf: floats[0..<count]) }
                floats.deallocate()
                floats = grown
            }
            floats[count] = try float("\(field)[\(count)]")
            count += 1
            // The separator right after the number (no whitespace): the common case, read directly.
            if position < bytes.count {
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; break }
            }
            guard try nextItem(&first) else { break }
        }
        return Array(floats[0..<count])
    }

    /// A point id: an unsigned 64-bit integer, as a JSON number or a decimal string.
    mutating func pointID(_ field: String) throws -> PointID {
        guard peek() == UInt8(ascii: "\"") else { return PointID(try integer(field, as: UInt64.self)) }
        guard let n = UInt64(try string(field)) else {
            throw mismatch(field, expected: "an unsigned 64-bit integer (a number or a decimal string)")
        }
        return PointID(n)
    }

    /// The next value decoded as `T` with `JSONDecoder`: for small nested values (a filter, a
    /// point's metadata) beside the numbers this reader reads itself.
    mutating func decoded<T: Decodable>(_ type: T.Type, _ field: String) throws -> T {
        let bytes = data(try skipValue())
        do { return try JSONDecoder().decode(T.self, from: bytes) } catch let e as DecodingError {
            throw ServerError.badJSON("'\(field)': " + ServerError.describe(e))
        }
    }

    // MARK: skipping

    /// Consumes any value (validating it) and returns its byte range.
    @discardableResult
    mutating func skipValue(depth: Int = 0) throws -> Range<Int> {
        guard depth < Self.maxDepth else { throw malformed("values nested more than \(Self.maxDepth) deep") }
        guard let b = peek() else { throw malformed("expected a value") }
        let start = position
        switch b {
        case UInt8(ascii: "{"):
            position += 1
            var first = true
            while try nextKey(&first) != nil { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            position += 1
            var first = true
            while try nextItem(&first) { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            guard literal("true") || literal("false") || literal("null") else { throw malformed("expected a value") }
        default: _ = try numberToken("", expected: "a value")
        }
        return start..<position
    }

    /// The bytes of `range` (from ``skipValue(depth:)``), for decoding a small nested value
    /// with `JSONDecoder`.
    func data(_ range: Range<Int>) -> Data {
        Data(UnsafeRawBufferPointer(rebasing: bytes[range]))
    }
}

extension SearchBody {
    /// Reads a search body with ``JSONReader`` (the hot path); the `filter` value, small and
    /// rare, goes through `JSONDecoder` as ``FilterSpec``. Unknown keys are ignored, as
    /// `JSONDecoder` ignores them.
    init(json: UnsafeRawBufferPointer) throws {
        var r = JSONReader(json)
        guard r.peek() != nil else { throw ServerError.badJSON("the request body is empty: send a JSON object") }
        try self.init(reading: &r, field: "the body")
        try r.end()
    }

    /// Reads one search object at the reader's position (`field` names it in errors).
    init(reading r: inout JSONReader, field: String) throws {
        self.init()
        try r.beginObject(field)
        var first = true
        while let key = try r.nextKey(&first) {
            if r.null() { continue }
            switch key {
            case "vector": vector = try r.floatArray("vector")
            case "text": text = try r.string("text")
            case "id": id = try r.pointID("id")
            case "k": k = try r.integer("k")
            case "offset": offset = try r.integer("offset")
            case "with_vector": with_vector = try r.bool("with_vector")
            case "params":
                var p = SearchParamsBody()
                try r.beginObject("params")
                var firstParam = true
                while let name = try r.nextKey(&firstParam) {
                    if r.null() { continue }
                    switch name {
                    case "ef": p.ef = try r.integer("params.ef")
                    case "nprobe": p.nprobe = try r.integer("params.nprobe")
                    case "rerank": p.rerank = try r.bool("params.rerank")
                    default: try r.skipValue()
                    }
                }
                params = p
            case "filter": filter = try r.decoded(FilterSpec.self, "filter")
            default: try r.skipValue()
            }
        }
    }
}

extension JSONReader {
    /// Reads a body `{"<key>": [item, ...]}` (other keys skipped): `item` reads each element,
    /// given the reader and the element's name for errors (`"<key>[i]"`).
    static func listBody<T>(_ json: UnsafeRawBufferPointer, key wanted: String, of what: String,
                            _ item: (inout JSONReader, String) throws -> T) throws -> [T] {
        var r = JSONReader(json)
        guard r.peek() != nil else { throw ServerError.badJSON("the request body is empty: send a JSON object") }
        try r.beginObject("the body")
        var items: [T]?
        var first = true
        while let key = try r.nextKey(&first) {
            guard key == wanted else { try r.skipValue(); continue }
            guard r.peek() == UInt8(ascii: "[") else { throw r.mismatch(wanted, expected: "an array of \(what)") }
            var list: [T] = []
            try r.beginArray(wanted)
            var firstItem = true
            while try r.nextItem(&firstItem) {
                list.append(try item(&r, "\(wanted)[\(list.count)]"))
            }
            items = list
        }
        try r.end()
        guard let items else { throw ServerError.badJSON("missing field '\(wanted)' in the body") }
        return items
    }
}

extension SearchBatchBody {
    /// Reads `{"searches": [search, ...]}` with ``JSONReader``.
    init(json: UnsafeRawBufferPointer) throws {
        self.init(searches: try JSONReader.listBody(json, key: "searches", of: "search objects") { r, field in
            try SearchBody(reading: &r, field: field)
        })
    }
}

extension UpsertBody {
    /// Reads `{"points": [{"id", "vector", "metadata"}, ...]}` with ``JSONReader`` (the vectors
    /// are most of the body: `JSONDecoder` spent about 1 ms on 10 points of 384 numbers); each
    /// `metadata` object goes through `JSONDecoder`. Unknown keys are ignored, as `JSONDecoder`
    /// ignores them.
    init(json: UnsafeRawBufferPointer) throws {
        self.init(points: try JSONReader.listBody(json, key: "points", of: "point objects") { r, field in
            var id: PointID?
            var vector: [Float]?
            var metadata: JSONMetadata?
            try r.beginObject(field)
            var first = true
            while let name = try r.nextKey(&first) {
                if r.null() { continue }
                switch name {
                case "id": id = try r.pointID(field + ".id")
                case "vector": vector = try r.floatArray(field + ".vector")
                case "metadata": metadata = try r.decoded(JSONMetadata.self, field + ".metadata")
                default: try r.skipValue()
                }
            }
            guard let vector else { throw ServerError.badJSON("missing field 'vector' in '\(field)'") }
            return PointBody(id: id, vector: vector, metadata: metadata)
        })
    }
}
