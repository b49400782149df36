import CImageCodecs
import Foundation

/// Image container formats vdb decodes, identified by content (signature), never by extension.
public enum ImageFormat: String, Sendable, Codable, CustomStringConvertible {
    case jpeg
    case png

    public var description: String { self == .jpeg ? "JPEG" : "PNG" }

    init?(code: Int32) {
        switch code {
        case Int32(VDB_FORMAT_JPEG): self = .jpeg
        case Int32(VDB_FORMAT_PNG): self = .png
        default: return nil
        }
    }
}

/// Header facts about an image, read without decoding its pixels.
public struct ImageInfo: Sendable, Equatable {
    public var format: ImageFormat
    /// Dimensions as displayed, i.e. after applying the EXIF orientation (swapped for 5...8).
    public var width: Int
    public var height: Int
    /// Dimensions as stored in the file.
    public var storedWidth: Int
    public var storedHeight: Int
    /// EXIF orientation 1...8 (1 when absent). JPEG APP1 Exif or PNG eXIf.
    public var orientation: Int
    /// Colour components stored (1 gray, 2 gray+alpha, 3 colour, 4 RGBA or CMYK).
    public var components: Int
    public var bitDepth: Int
    public var hasAlpha: Bool
    public var isCMYK: Bool
    /// Progressive JPEG or interlaced PNG.
    public var isProgressive: Bool
}

/// Cheap header probing: format by content and dimensions without a full decode.
public enum ImageProbe {
    /// The format of encoded bytes by signature (JPEG `FF D8 FF`, PNG `89 50 4E 47 0D 0A 1A 0A`),
    /// or nil for anything else.
    public static func format(of bytes: some ContiguousBytes) -> ImageFormat? {
        bytes.withUnsafeBytes { raw in
            ImageFormat(code: vdb_sniff_format(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count))
        }
    }

    /// Format, dimensions and orientation from the headers of encoded bytes.
    /// - Throws: `CLIPError` (`.emptyImage`, `.unknownImageFormat`, `.truncatedImage`, `.corruptImage`).
    public static func info(of bytes: some ContiguousBytes, source: String = "<memory>") throws -> ImageInfo {
        var info = vdb_image_info()
        let rc = bytes.withUnsafeBytes { raw in
            vdb_probe(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, &info)
        }
        guard rc == Int32(VDB_OK), let format = ImageFormat(code: info.format) else {
            let lead = bytes.withUnsafeBytes { leadingBytes($0) }
            throw CLIPError(status: rc, format: ImageFormat(code: info.format), source: source,
                             detail: "image headers are incomplete or invalid", leading: lead)
        }
        let swap = info.orientation >= 5
        return ImageInfo(format: format,
                         width: Int(swap ? info.height : info.width),
                         height: Int(swap ? info.width : info.height),
                         storedWidth: Int(info.width), storedHeight: Int(info.height),
                         orientation: Int(info.orientation), components: Int(info.components),
                         bitDepth: Int(info.bit_depth), hasAlpha: info.has_alpha != 0,
                         isCMYK: info.is_cmyk != 0, isProgressive: info.progressive != 0)
    }

    /// Probes a file, reading only its first 256 KiB unless the headers extend further.
    /// - Throws: `CLIPError.unreadableFile` and the errors of `info(of:)`.
    public static func info(ofFile path: String) throws -> ImageInfo {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw CLIPError.unreadableFile(path: path, reason: "is a directory")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CLIPError.unreadableFile(path: path, reason: fileProblem(path))
        }
        defer { try? handle.close() }
        do {
            let head = try handle.read(upToCount: 256 * 1024) ?? Data()
            do {
                return try info(of: head, source: path)
            } catch CLIPError.truncatedImage(_, _, _) where head.count == 256 * 1024 {
                let rest = try handle.readToEnd() ?? Data()
                return try info(of: head + rest, source: path)
            }
        } catch let error as CLIPError {
            throw error
        } catch {
            throw CLIPError.unreadableFile(path: path, reason: "\(error)")
        }
    }

    static func leadingBytes(_ raw: UnsafeRawBufferPointer) -> String {
        if raw.isEmpty { return "nothing" }
        let hex = raw.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        let text = String(decoding: raw.prefix(16).map { (0x20..<0x7f).contains($0) ? $0 : UInt8(ascii: ".") },
                          as: UTF8.self)
        return "\(hex) \"\(text)\""
    }

    static func fileProblem(_ path: String) -> String {
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDir) { return "no such file" }
        if isDir.boolValue { return "is a directory" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        return "cannot open"
    }
}

extension CLIPError {
    /// Maps a CImageCodecs status code to an error.
    init(status: Int32, format: ImageFormat?, source: String, detail: String, leading: String) {
        let fmt = format ?? .jpeg
        switch status {
        case Int32(VDB_ERR_EMPTY): self = .emptyImage(source: source)
        case Int32(VDB_ERR_UNKNOWN_FORMAT): self = .unknownImageFormat(source: source, leadingBytes: leading)
        case Int32(VDB_ERR_TRUNCATED): self = .truncatedImage(source: source, format: fmt, detail: detail)
        case Int32(VDB_ERR_UNSUPPORTED): self = .unsupportedImage(source: source, format: fmt, detail: detail)
        case Int32(VDB_ERR_TOO_LARGE): self = .imageTooLarge(source: source, detail: detail)
        case Int32(VDB_ERR_NO_MEMORY): self = .outOfMemory(source: source)
        default: self = .corruptImage(source: source, format: fmt, detail: detail)
        }
    }
}
