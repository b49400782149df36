import Foundation
import Testing
@testable import VDBCLIP

@Suite struct ImageThumbnailTests {
    @Test func fittedSizeKeepsTheAspectRatio() {
        #expect(ImageThumbnail.fittedSize(width: 4000, height: 3000, maxSide: 256) == (256, 192))
        #expect(ImageThumbnail.fittedSize(width: 100, height: 50, maxSide: 256) == (100, 50))
        #expect(ImageThumbnail.fittedSize(width: 1, height: 5000, maxSide: 100) == (1, 100))
    }

    @Test func thumbnailsApplyOrientationAndDecodeAsJPEG() throws {
        let big = try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.path("large_1920x1440.jpg")))
        let thumb = try ImageThumbnail.jpeg(from: big, maxSide: 256)
        let info = try ImageProbe.info(of: thumb)
        #expect(info.format == .jpeg && info.width == 256 && info.height == 192)
        // EXIF orientation 6 (rotate 90°): the thumbnail is upright, its sides swapped.
        let rotated = try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.path("exif_orient6.jpg")))
        let shown = try ImageProbe.info(of: rotated)
        let r = try ImageProbe.info(of: try ImageThumbnail.jpeg(from: rotated, maxSide: 64))
        #expect(r.orientation == 1)
        #expect((r.width > r.height) == (shown.width > shown.height))
        #expect(max(r.width, r.height) == min(64, max(shown.width, shown.height)))
        let png = try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.path("rgba.png")))
        #expect(try ImageProbe.info(of: try ImageThumbnail.jpeg(from: png, maxSide: 32)).format == .jpeg)
    }

    @Test func badInputThrows() throws {
        let pixels = [UInt8](repeating: 200, count: 10 * 20 * 3)
        let jpeg = try ImageThumbnail.encodeJPEG(rgb8: pixels, width: 10, height: 20)
        let info = try ImageProbe.info(of: jpeg)
        #expect(info.width == 10 && info.height == 20)
        #expect(throws: CLIPError.self) { try ImageThumbnail.encodeJPEG(rgb8: pixels, width: 11, height: 20) }
        #expect(throws: CLIPError.self) { try ImageThumbnail.jpeg(from: Array("text".utf8), maxSide: 64) }
        #expect(throws: CLIPError.self) { try ImageThumbnail.jpeg(from: [UInt8](), maxSide: 0) }
    }
}
