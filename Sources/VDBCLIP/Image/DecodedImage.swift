import CImageCodecs

/// A decoded image: 8-bit RGB, row-major, interleaved (`pixels.count == width * height * 3`),
/// with EXIF orientation applied, alpha composited on white and CMYK/grayscale converted.
public struct DecodedImage: Sendable, Equatable {
    /// Width and height of `pixels` (after DCT scaling and orientation).
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]
    /// Container format, nil for images built from raw pixels.
    public var format: ImageFormat?
    /// Full-resolution dimensions as displayed (after orientation, before any DCT scaling). These are
    /// what preprocessing computes the resize geometry from, and what ingest stores as metadata.
    public var fullWidth: Int
    public var fullHeight: Int
    /// EXIF orientation found in the file (1...8); 1 for raw pixels.
    public var orientation: Int
    /// JPEG DCT scaling denominator used by the decoder: 1 (full size), 2, 4 or 8.
    public var decodeScale: Int
    /// Largest total of pixel buffers the decoder held at once (bytes), for memory accounting.
    public var peakDecodeBytes: Int

    /// Wraps raw RGB8 pixels (row-major, interleaved, no padding).
    /// - Throws: `CLIPError.invalidPixels` when the buffer size does not match.
    public init(width: Int, height: Int, rgb8 pixels: [UInt8]) throws {
        guard width > 0, height > 0, width <= 1 << 20, height <= 1 << 20 else {
            throw CLIPError.invalidPixels(detail: "dimensions \(width)x\(height) out of range")
        }
        guard pixels.count == width * height * 3 else {
            throw CLIPError.invalidPixels(
                detail: "\(pixels.count) bytes for \(width)x\(height) RGB8 (expected \(width * height * 3))")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
        format = nil
        fullWidth = width
        fullHeight = height
        orientation = 1
        decodeScale = 1
        peakDecodeBytes = pixels.count
    }

    init(decoded d: vdb_decoded, format: ImageFormat) {
        width = Int(d.width)
        height = Int(d.height)
        let count = width * height * 3
        pixels = [UInt8](unsafeUninitializedCapacity: count) { buf, n in
            if let src = d.pixels, let dst = buf.baseAddress { dst.update(from: src, count: count) }
            n = count
        }
        self.format = format
        let swap = d.orientation_applied != 0 && d.orientation >= 5
        fullWidth = Int(swap ? d.source_height : d.source_width)
        fullHeight = Int(swap ? d.source_width : d.source_height)
        orientation = Int(d.orientation)
        decodeScale = Int(d.scale_denom)
        peakDecodeBytes = d.peak_bytes + count
    }
}
