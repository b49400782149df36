import Foundation
import VDBCLIP
import VDBCore

/// The metadata ingest records about each photo beyond its file facts, and the indexed fields
/// photo collections declare so that searches can filter on them
/// (`vdb search photos --text beach --where "taken_at>=2024-06-01" --where make=Google`).
public enum PhotoMetadata {
    /// Indexed fields of image collections made by ``Ingestor``.
    public static let fields: [FieldDefinition] = [
        FieldDefinition(name: "taken_at", type: .time),
        FieldDefinition(name: "camera", type: .keyword),
        FieldDefinition(name: "make", type: .keyword),
        FieldDefinition(name: "model", type: .keyword),
        FieldDefinition(name: "lens", type: .keyword),
        FieldDefinition(name: "format", type: .keyword),
        FieldDefinition(name: "width", type: .int),
        FieldDefinition(name: "height", type: .int),
        FieldDefinition(name: "gps_lat", type: .float),
        FieldDefinition(name: "gps_lon", type: .float),
    ]

    /// What the EXIF block of `data` says, plus the capture time:
    /// - `taken_at`: EXIF `DateTimeOriginal` as `YYYY-MM-DDTHH:MM:SS` (the camera's wall-clock
    ///   time), else the file's modification time `mtime` in this machine's local time;
    ///   `taken_at_source` says which (`exif` or `mtime`); `taken_at_offset` the EXIF
    ///   `OffsetTimeOriginal` when the camera recorded one;
    /// - `camera` (maker and model as one name), `make`, `model`, `lens`;
    /// - `gps_lat`, `gps_lon` in degrees (south and west negative), when present;
    /// - `orientation` (EXIF, 1...8).
    ///
    /// Absent or corrupt EXIF is not an error: the keys it cannot give are left out.
    public static func metadata(of data: Data, mtime: Double) -> Metadata {
        var m: Metadata = [:]
        let exif = ImageProbe.exif(of: data)
        if let original = exif?.dateTimeOriginal, let seconds = MetadataTime.seconds(original) {
            m["taken_at"] = .string(MetadataTime.format(seconds))
            m["taken_at_source"] = "exif"
            if let offset = exif?.offsetTimeOriginal, MetadataTime.seconds("2000-01-01T00:00:00" + offset) != nil {
                m["taken_at_offset"] = .string(offset)
            }
        } else {
            let offset = TimeZone.current.secondsFromGMT(for: Date(timeIntervalSince1970: mtime))
            m["taken_at"] = .string(MetadataTime.format(mtime.rounded(.down), offset: offset))
            m["taken_at_source"] = "mtime"
        }
        guard let exif else { return m }
        func keyword(_ s: String?) -> MetadataValue? {
            guard let s, !s.isEmpty, s.utf8.count <= 255 else { return nil }
            return .string(s)
        }
        m["camera"] = keyword(exif.camera)
        m["make"] = keyword(exif.make)
        m["model"] = keyword(exif.model)
        m["lens"] = keyword(exif.lens)
        if let lat = exif.latitude, let lon = exif.longitude {
            m["gps_lat"] = .double(lat)
            m["gps_lon"] = .double(lon)
        }
        m["orientation"] = .int(Int64(exif.orientation))
        return m
    }
}
