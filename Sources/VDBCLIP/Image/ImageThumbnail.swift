import CImageCodecs
import Foundation

/// Small JPEG previews of JPEG/PNG images (the thumbnails `vdb serve` shows).
///
/// EXIF orientation is applied, the aspect ratio is kept, and the image is resampled with the
/// same antialiased bicubic filter as CLIP preprocessing. Big JPEGs are decoded with DCT scaling,
/// so a thumbnail of a 50-megapixel photo never holds the full-size image in memory.
public enum ImageThumbnail {
    /// Largest accepted `maxSide`.
    public static let maxSideLimit = 4096

    /// Encodes a JPEG thumbnail whose longer side is `maxSide` pixels (an image already smaller
    /// keeps its size).
    ///
    /// - Parameters:
    ///   - data: the encoded JPEG or PNG.
    ///   - maxSide: 1...``maxSideLimit``.
    ///   - quality: JPEG quality 1...100.
    ///   - source: a label for error messages (e.g. the file path).
    /// - Returns: the bytes of a baseline JPEG file.
    /// - Throws: `CLIPError` (the data is not a readable image, or `maxSide`/`quality` is out of range).
    public static func jpeg(from data: some ContiguousBytes, maxSide: Int, quality: Int = 85,
                            source: String = "<memory>") throws -> [UInt8] {
        guard (1...maxSideLimit).contains(maxSide), (1...100).contains(quality) else {
            throw CLIPError.invalidInput("thumbnail size must be 1...\(maxSideLimit) and quality 1...100 (got \(maxSide), \(quality))")
        }
        let info = try ImageProbe.info(of: data, source: source)
        let (width, height) = fittedSize(width: info.width, height: info.height, maxSide: maxSide)
        return try CLIPImageLoader.withDecoded(data: data, minimumShortSide: min(width, height),
                                               applyOrientation: true, source: source) { decoded, _ in
            guard let pixels = decoded.pixels else { throw CLIPError.outOfMemory(source: source) }
            var resized = [UInt8](repeating: 0, count: width * height * 3)
            let rc = resized.withUnsafeMutableBufferPointer { out in
                vdb_resize_crop_rgb8(pixels, decoded.width, decoded.height, Int(decoded.width) * 3,
                                     Int32(width), Int32(height), 0, 0, Int32(width), Int32(height), out.baseAddress)
            }
            guard rc == Int32(VDB_OK) else { throw CLIPError.outOfMemory(source: source) }
            return try encodeJPEG(rgb8: resized, width: width, height: height, quality: quality, source: source)
        }
    }

    /// The size of an image of `width` x `height` scaled so that its longer side is at most
    /// `maxSide`, each side at least 1 pixel.
    public static func fittedSize(width: Int, height: Int, maxSide: Int) -> (width: Int, height: Int) {
        let longer = max(width, height)
        guard longer > maxSide, width > 0, height > 0 else { return (max(1, width), max(1, height)) }
        let scale = Double(maxSide) / Double(longer)
        return (max(1, min(maxSide, Int((Double(width) * scale).rounded()))),
                max(1, min(maxSide, Int((Double(height) * scale).rounded()))))
    }

    /// Encodes RGB8 pixels (row-major, interleaved) as a baseline JPEG.
    /// - Throws: `CLIPError.invalidPixels` when the buffer does not match the size.
    public static func encodeJPEG(rgb8 pixels: [UInt8], width: Int, height: Int, quality: Int = 85,
                                  source: String = "<memory>") throws -> [UInt8] {
        guard width > 0, height > 0, width <= 65500, height <= 65500,
              width.multipliedReportingOverflow(by: height * 3).partialValue == pixels.count else {
            throw CLIPError.invalidPixels(detail: "\(pixels.count) bytes for \(width)x\(height) RGB8")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let rc = pixels.withUnsafeBufferPointer {
            vdb_encode_jpeg_rgb8($0.baseAddress, Int32(width), Int32(height), Int32(quality), &out, &size,
                                 &message, message.count)
        }
        defer { vdb_jpeg_free(out) }
        guard rc == Int32(VDB_OK), let out else {
            throw CLIPError.invalidPixels(detail: "JPEG encoding failed: \(CLIPImageLoader.cString(message))")
        }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
