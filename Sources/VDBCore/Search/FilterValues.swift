// How filters compare metadata values: canonical text for equality, numbers and times for
// ranges, and the date/time formats vdb reads. Shared by the metadata index (typed fields) and
// the scan of undeclared keys, so both answer a filter the same way.

/// Dates and times in metadata and filters: parsing to seconds since 1970-01-01 UTC, and formatting.
///
/// Accepted forms: `2024-06-01` (midnight), `2024-06-01T10:30`, `2024-06-01T10:30:00`,
/// `2024-06-01 10:30:00.250`, each optionally followed by `Z` or an offset `+02:00` / `-0500`,
/// and EXIF's `2024:06:01 10:30:00`. A time without a zone is taken as UTC, so wall-clock times
/// (as cameras record them) compare as written.
public enum MetadataTime {
    /// Seconds since 1970-01-01 00:00:00 UTC of `text`, or nil if it is not a date or date-time
    /// in one of the accepted forms (or names an impossible day or time).
    public static func seconds(_ text: String) -> Double? {
        var s = text
        return s.withUTF8 { parse($0) }
    }

    /// `seconds` (since 1970 UTC) as `YYYY-MM-DDTHH:MM:SS` (with a fraction when there is one),
    /// shifted by `offset` seconds (e.g. a time zone's offset from UTC, to write local time).
    public static func format(_ seconds: Double, offset: Int = 0) -> String {
        let total = seconds + Double(offset)
        guard total.isFinite, abs(total) < 1e15 else { return String(seconds) }
        let whole = total.rounded(.down)
        let days = Int64((whole / 86400).rounded(.down))
        let secs = Int64(whole) - days * 86400
        let (y, m, d) = civil(fromDays: days)
        let frac = total - whole
        func padded(_ v: Int64, _ width: Int) -> String {
            let digits = String(abs(v))
            return (v < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var out = "\(padded(y, 4))-\(padded(m, 2))-\(padded(d, 2))"
        out += "T\(padded(secs / 3600, 2)):\(padded(secs / 60 % 60, 2)):\(padded(secs % 60, 2))"
        if frac > 0.0005 {
            let ms = Int((frac * 1000).rounded())
            if ms < 1000 { out += "." + String(repeating: "0", count: 3 - String(ms).count) + String(ms) }
        }
        return out
    }

    private static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        var p = 0
        func digits(_ n: Int) -> Int64? {
            guard p + n <= b.count else { return nil }
            var v: Int64 = 0
            for i in p..<(p + n) {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            p += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard p < b.count, b[p] == c else { return false }
            p += 1
            return true
        }
        // Date: YYYY-MM-DD or YYYY:MM:DD (EXIF, always followed by a time).
        guard let year = digits(4), p < b.count else { return nil }
        let separator = b[p]
        guard separator == UInt8(ascii: "-") || separator == UInt8(ascii: ":") else { return nil }
        p += 1
        guard let month = digits(2), expect(separator), let day = digits(2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        var seconds = Double(days(fromCivil: year, month, day)) * 86400
        if p == b.count { return separator == UInt8(ascii: "-") ? seconds : nil }
        guard b[p] == UInt8(ascii: "T") || b[p] == UInt8(ascii: " ") else { return nil }
        p += 1
        guard let hour = digits(2), expect(UInt8(ascii: ":")), let minute = digits(2), hour < 24, minute < 60 else { return nil }
        seconds += Double(hour * 3600 + minute * 60)
        if expect(UInt8(ascii: ":")) {
            guard let sec = digits(2), sec <= 60 else { return nil }
            seconds += Double(sec)
            if expect(UInt8(ascii: ".")) || expect(UInt8(ascii: ",")) {
                var scale = 0.1, any = false
                while p < b.count, b[p] >= 48, b[p] <= 57 {
                    seconds += Double(b[p] - 48) * scale
                    scale /= 10
                    p += 1
                    any = true
                }
                guard any else { return nil }
            }
        }
        if p == b.count { return seconds }
        // Zone: Z, +HH:MM, +HHMM, +HH.
        if expect(UInt8(ascii: "Z")) || expect(UInt8(ascii: "z")) { return p == b.count ? seconds : nil }
        guard p < b.count, b[p] == UInt8(ascii: "+") || b[p] == UInt8(ascii: "-") else { return nil }
        let sign: Double = b[p] == UInt8(ascii: "-") ? -1 : 1
        p += 1
        guard let oh = digits(2), oh <= 23 else { return nil }
        var om: Int64 = 0
        if p < b.count {
            _ = expect(UInt8(ascii: ":"))
            guard let m = digits(2), m < 60 else { return nil }
            om = m
        }
        guard p == b.count else { return nil }
        return seconds - sign * Double(oh * 3600 + om * 60)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

/// Comparison rules of filters (see ``Filter``).
enum FilterValues {
    /// The text a value is matched by: strings as they are, integers in decimal, integral
    /// doubles as integers (`5.0` is `5`), other doubles in Swift's shortest form, booleans as
    /// `true` / `false`.
    static func canonicalText(_ v: MetadataValue) -> String {
        switch v {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return exactInt(d).map { String($0) } ?? d.description
        case .bool(let b): return b ? "true" : "false"
        }
    }

    /// `d` as an Int64 when it is an integer in range.
    static func exactInt(_ d: Double) -> Int64? {
        guard d.isFinite, d == d.rounded(), d >= -9.223372036854775808e18, d < 9.223372036854775808e18 else { return nil }
        return Int64(d)
    }

    /// A value as a point in time (seconds since 1970 UTC): numbers as they are, strings parsed
    /// by ``MetadataTime``.
    static func seconds(_ v: MetadataValue) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string(let s): return MetadataTime.seconds(s)
        case .bool: return nil
        }
    }

    /// Equality of match: same canonical text.
    static func equal(_ a: MetadataValue, _ b: MetadataValue) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        default: return canonicalText(a) == canonicalText(b)
        }
    }
}

/// A range over numbers (times as seconds since 1970 UTC), as a filter's `range` gives it.
struct NumericRange: Hashable {
    var lower: Double = -.infinity
    var lowerInclusive = true
    var upper: Double = .infinity
    var upperInclusive = true

    @inline(__always)
    func contains(_ x: Double) -> Bool {
        (lowerInclusive ? x >= lower : x > lower) && (upperInclusive ? x <= upper : x < upper)
    }
}
