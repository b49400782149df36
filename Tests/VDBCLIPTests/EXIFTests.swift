import Foundation
import Testing
@testable import VDBCLIP

/// EXIF extraction on the fixtures written by Fixtures/exif/make_exif_fixtures.py.
@Suite struct EXIFTests {
    func exif(_ name: String) throws -> PhotoEXIF? {
        ImageProbe.exif(of: try Data(contentsOf: Fixtures.root.appendingPathComponent("exif").appendingPathComponent(name)))
    }

    @Test func orientationDateCameraAndLens() throws {
        let e = try #require(try exif("orientation6.jpg"))
        #expect(e.orientation == 6)
        #expect(e.dateTimeOriginal == "2024:06:01 10:30:00")
        #expect(e.offsetTimeOriginal == "+02:00")
        #expect(e.make == "Google" && e.model == "Pixel 8" && e.camera == "Google Pixel 8")
        #expect(e.lens == "Pixel 8 back camera 6.9mm f/1.68")
        #expect(e.latitude == nil && e.longitude == nil && !e.isCorrupt)
        // The decoder sees the same orientation.
        let info = try ImageProbe.info(of: try Data(contentsOf: Fixtures.root.appendingPathComponent("exif/orientation6.jpg")))
        #expect(info.orientation == 6 && info.width == 16 && info.height == 24)
    }

    @Test func gpsInBothByteOrders() throws {
        func degrees(_ d: Double, _ m: Double, _ s: Double) -> Double { d + m / 60 + s / 3600 }
        let north = try #require(try exif("gps.jpg"))  // big-endian TIFF
        let (lat, lon) = (try #require(north.latitude), try #require(north.longitude))
        #expect(abs(lat - degrees(48, 51, 29.6)) < 1e-9 && abs(lon - degrees(2, 17, 40.2)) < 1e-9)
        #expect(north.camera == "Canon EOS R5" && north.dateTimeOriginal == "2023:12:24 18:05:09")
        let south = try #require(try exif("gps_south_west.jpg"))
        let (slat, slon) = (try #require(south.latitude), try #require(south.longitude))
        #expect(abs(slat + degrees(22, 57, 6.84)) < 1e-9 && abs(slon + degrees(43, 12, 37.8)) < 1e-9)
        #expect(south.make == nil && south.camera == "DMC-FZ1000" && south.dateTimeOriginal == nil)
    }

    @Test func noEXIF() throws {
        #expect(try exif("no_exif.jpg") == nil)
        #expect(ImageProbe.exif(of: Data("not an image".utf8)) == nil)
        #expect(ImageProbe.exif(of: Data()) == nil)
    }

    @Test func corruptEXIFKeepsWhatItCouldRead() throws {
        let e = try #require(try exif("corrupt_exif.jpg"))
        #expect(e.isCorrupt)
        #expect(e.make == "Nikon" && e.orientation == 8)
        #expect(e.dateTimeOriginal == nil)
        let garbage = try #require(try exif("garbage_exif.jpg"))
        #expect(garbage.isCorrupt && garbage.orientation == 1 && garbage.make == nil)
        // Every truncation of a valid block parses without crashing.
        let full = try Data(contentsOf: Fixtures.root.appendingPathComponent("exif/gps.jpg"))
        for n in stride(from: 0, to: full.count, by: 7) { _ = ImageProbe.exif(of: full.prefix(n)) }
    }

    @Test func pngEXIfChunk() throws {
        let e = try #require(try exif("exif.png"))
        #expect(e.orientation == 3 && e.dateTimeOriginal == "2021:05:06 07:08:09" && !e.isCorrupt)
    }
}
