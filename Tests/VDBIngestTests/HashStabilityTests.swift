import Foundation
import Testing
@testable import VDBIngest

/// Ingest identifies images by hashes that are stored in existing collections: the SHA-256 of the
/// path (the record id) and of the content (`sha256` metadata). They must not change when the
/// SHA-256 implementation does (swift-crypto since issue 11; hand-written before).
@Suite struct HashStabilityTests {
    @Test func contentHashesAreStandardHex() {
        #expect(sha256Hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(sha256Hex(Data(repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Values computed with Python's hashlib: the first 63 bits of SHA-256(path), big endian.
    @Test func pathIDsAreUnchanged() {
        #expect(Ingestor.pathID("/photos/beach.jpg") == 1_332_765_208_241_035_543)
        #expect(Ingestor.pathID("/home/user/Pictures/ünïcode cat.png") == 7_425_362_006_300_039_660)
    }
}
