import CImageCodecs
import Foundation

/// The EXIF metadata of a photo that vdb records: capture time, camera, lens, GPS position,
/// orientation. Read from a JPEG's APP1 `Exif` segment or a PNG's `eXIf` chunk without decoding
/// pixels (``ImageProbe/exif(of:)``).
public struct PhotoEXIF: Sendable, Hashable {
    /// `DateTimeOriginal` as stored (`2024:06:01 10:30:00`, camera wall-clock time), if set.
    public var dateTimeOriginal: String?
    /// `OffsetTimeOriginal` (`+02:00`), if set.
    public var offsetTimeOriginal: String?
    /// Camera maker and model (`Google`, `Pixel 8`), lens model.
    public var make: String?
    public var model: String?
    public var lens: String?
    /// GPS position in degrees (south and west negative), when the block holds a valid one.
    public var latitude: Double?
    public var longitude: Double?
    /// EXIF orientation 1...8 (1 when absent).
    public var orientation: Int
    /// The block is malformed; the fields above are what could be read before the problem.
    public var isCorrupt: Bool

    /// The camera as one name: the model, prefixed by the maker unless the model already starts
    /// with it (`Canon EOS R5`, `Google Pixel 8`), or whichever of the two is set.
    public var camera: String? {
        switch (make, model) {
        case let (m?, mo?): return mo.lowercased().hasPrefix(m.lowercased()) ? mo : "\(m) \(mo)"
        case let (m?, nil): return m
        case let (nil, mo?): return mo
        default: return nil
        }
    }
}

extension ImageProbe {
    /// The EXIF metadata of encoded JPEG or PNG bytes, or nil when they carry none (or are not
    /// JPEG/PNG). A corrupt block is not an error: what could be read is returned, with
    /// ``PhotoEXIF/isCorrupt`` set.
    public static func exif(of bytes: some ContiguousBytes) -> PhotoEXIF? {
        var e = vdb_exif()
        let found = bytes.withUnsafeBytes { raw in
            vdb_exif_read(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, &e)
        }
        guard found != 0 else { return nil }
        func text<T>(_ field: T) -> String? {
            let s = withUnsafeBytes(of: field) { raw -> String in
                let bytes = raw.prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            return s.isEmpty ? nil : s
        }
        return PhotoEXIF(dateTimeOriginal: text(e.datetime_original), offsetTimeOriginal: text(e.offset_time_original),
                         make: text(e.make), model: text(e.model), lens: text(e.lens_model),
                         latitude: e.has_gps != 0 ? e.gps_latitude : nil, longitude: e.has_gps != 0 ? e.gps_longitude : nil,
                         orientation: Int(e.orientation), isCorrupt: e.corrupt != 0)
    }
}
