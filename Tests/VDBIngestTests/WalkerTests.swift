import Foundation
import Testing
@testable import VDBIngest

/// A fresh temporary folder, removed by the caller.
func makeTempDir(_ label: String = "vdb-ingest") -> String {
    let path = NSTemporaryDirectory() + "\(label)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct FolderWalkerTests {
    @Test func walksSortedSkipsHiddenAndSurvivesSymlinkLoops() throws {
        let root = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/b/inner", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/.hidden", withIntermediateDirectories: true)
        for p in ["a.jpg", "b/z.png", "b/inner/y.jpg", ".secret.jpg", ".hidden/x.jpg"] {
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: root + "/" + p))
        }
        try fm.createSymbolicLink(atPath: root + "/b/inner/loop", withDestinationPath: root + "/b")
        try fm.createSymbolicLink(atPath: root + "/dangling", withDestinationPath: root + "/nowhere")

        var walker = FolderWalker(roots: [root])
        var files: [String] = []
        while let listing = walker.next() { files += listing.files.map { String($0.path.dropFirst(root.count + 1)) } }
        #expect(files == ["a.jpg", "b/z.png", "b/inner/y.jpg"])
        #expect(walker.problems.contains { $0.path.hasSuffix("loop") && $0.reason.contains("loop") })
        #expect(walker.problems.contains { $0.path.hasSuffix("dangling") && $0.reason.contains("broken") })

        var all = FolderWalker(roots: [root], includeHidden: true)
        var count = 0
        while let listing = all.next() { count += listing.files.count }
        #expect(count == 5)
    }

    @Test func missingRootIsReported() {
        var walker = FolderWalker(roots: ["/definitely/not/here"])
        #expect(walker.next() == nil)
        #expect(walker.problems.first?.reason.contains("no such file") == true)
    }
}

@Suite struct CaptionTests {
    @Test func sidecarCsvAndJsonl() throws {
        let root = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ name: String, _ text: String) throws {
            try text.write(toFile: root + "/" + name, atomically: true, encoding: .utf8)
        }
        try write("a.jpg", "x"); try write("b.jpg", "x"); try write("c.png", "x"); try write("d.jpg", "x")
        try write("a.txt", "  a red circle\n")
        try write("notes.txt", "not a sidecar")
        try write("captions.csv", "file,caption\nb.jpg,\"two blue squares, small\"\na.jpg,overridden by sidecar\nbroken\n")
        try write("captions.jsonl", "{\"file\": \"c.png\", \"caption\": \"a green star\"}\nnot json\n")
        var walker = FolderWalker(roots: [root])
        let next = walker.next()
        let listing = try #require(next)
        let captions = FolderCaptions(listing: listing)
        #expect(captions.caption(for: "a.jpg")?.text == "a red circle")
        #expect(captions.caption(for: "a.jpg")?.source == .sidecar)
        #expect(captions.caption(for: "b.jpg")?.text == "two blue squares, small")
        #expect(captions.caption(for: "b.jpg")?.source == .csv)
        #expect(captions.caption(for: "c.png")?.source == .jsonl)
        #expect(captions.caption(for: "d.jpg") == nil)
        #expect(captions.captionFiles == ["a.txt", "captions.csv", "captions.jsonl"])
        #expect(captions.problems.count == 2)
    }

    @Test func csvQuoting() {
        let rows = FolderCaptions.parseCSV("file,caption\r\n\"x.jpg\",\"say \"\"hi\"\"\nthere\"\n")
        #expect(rows == [["file", "caption"], ["x.jpg", "say \"hi\"\nthere"]])
    }
}

import VDBCore

@Suite struct CollectionPropertyTests {
    @Test func propertiesPersistAndVanishWithTheCollection() throws {
        let dir = makeTempDir("vdb-props")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try Database(path: dir)
        let c = try db.createCollection(name: "p", dimension: 2, metric: .l2)
        try c.insert([[1, 2], [3, 4]], ids: [5, 9], metadata: [["path": "a"], nil])
        #expect(try c.property("model") == nil)
        try c.setProperties(["model": "abc", "other": "x"])
        #expect(try c.property("model") == "abc")
        #expect(try c.properties() == ["model": "abc", "other": "x"])
        try c.setProperties(["other": nil])
        #expect(try c.properties() == ["model": "abc"])
        #expect(try c.count() == 2)  // the state record is untouched
        var seen: [UInt64] = []
        try c.forEachMetadata { id, m in seen.append(id); #expect(m["path"] == "a"); return true }
        #expect(seen == [5])
        try db.dropCollection(named: "p")
        let again = try db.createCollection(name: "p", dimension: 2, metric: .l2)
        #expect(try again.properties().isEmpty)
    }
}

/// The `--where` shorthand on photo metadata (what `vdb search photos --where` passes on).
@Suite struct MetadataFilterTests {
    @Test func parsesAndMatches() throws {
        let m: Metadata = ["format": "png", "width": .int(1200), "ratio": .double(0.5), "hdr": .bool(true)]
        func ok(_ s: String) throws -> Bool { try Filter(where: [s]).matches(m) }
        #expect(try ok("format=png") && !(try ok("format=jpeg")) && (try ok("format!=jpeg")))
        #expect(try ok("width>=1200") && !(try ok("width>1200")) && (try ok("width<=1200.0")) && (try ok("width=1200")))
        #expect(try ok("ratio<1") && (try ok("hdr=true")) && (try ok("missing!=x")) && !(try ok("missing=x")))
        #expect(throws: VDBError.self) { try Filter(where: ["width>big"]) }
        #expect(throws: VDBError.self) { try Filter(where: ["novalue"]) }
        #expect(throws: VDBError.self) { try Filter(where: ["=3"]) }
        let f = try Filter(where: ["format=png", "width>1000"])
        #expect(f.matches(m) && !f.matches(["format": "png", "width": .int(10)]))
    }
}

@Suite struct ConfinedWalkTests {
    @Test func aConfinedWalkDoesNotFollowLinksOut() throws {
        let root = makeTempDir("vdb-confined")
        let outside = makeTempDir("vdb-outside")
        defer { try? FileManager.default.removeItem(atPath: root); try? FileManager.default.removeItem(atPath: outside) }
        try copyFixtures([("rgb_420.jpg", "a.jpg")], into: root)
        try copyFixtures([("rgb_420.jpg", "secret.jpg")], into: outside)
        try FileManager.default.createSymbolicLink(atPath: root + "/out", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: root + "/file.jpg", withDestinationPath: outside + "/secret.jpg")
        var free = FolderWalker(roots: [root])
        var freeFiles: [String] = []
        while let l = free.next() { freeFiles += l.files.map(\.path) }
        #expect(freeFiles.contains { $0.hasSuffix("secret.jpg") })
        var confined = FolderWalker(roots: [root], confinedTo: [root])
        var files: [String] = []
        while let l = confined.next() { files += l.files.map(\.path) }
        #expect(files.map { ($0 as NSString).lastPathComponent } == ["a.jpg"])
        #expect(Set(confined.problems.map { ($0.path as NSString).lastPathComponent }) == ["out", "file.jpg"])
        var outsideRoot = FolderWalker(roots: [outside], confinedTo: [root])
        #expect(outsideRoot.next() == nil)
        #expect(outsideRoot.problems.count == 1)
        #expect(PathConfinement.resolves(root + "/out/secret.jpg", insideAnyOf: [root]) == false)
        #expect(PathConfinement.resolves(root + "/a.jpg", insideAnyOf: [root]))
        try FileManager.default.createDirectory(atPath: root + "-other", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root + "-other") }
        #expect(PathConfinement.resolves(root + "-other", insideAnyOf: [root]) == false, "a sibling sharing the prefix is outside")
    }
}
