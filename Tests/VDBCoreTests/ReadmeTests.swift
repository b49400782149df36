import Foundation
import Testing
import VDBCore

/// The Swift library example of README.md, compiled and run: the lines between the markers below
/// must appear verbatim in the README (the README opens its database at "/tmp/docs.vdb"; the test
/// uses a temporary directory).
@Suite struct ReadmeTests {
    @Test func librarySnippetRunsAndCommitsAtomically() throws {
        let tmp = TempDir("vdb-readme"); defer { tmp.cleanup() }
        let db = try Database(path: tmp.path)
        // README snippet begin
        let docs = try db.createCollection(name: "docs", dimension: 3, metric: .cosine)
        try docs.insert([[0.1, 0.2, 0.3], [0.3, 0.1, 0.0]], metadata: [["lang": "en"], ["lang": "fr"]])
        try docs.buildIndex(kind: .hnsw, parameters: IndexParameters(m: 16, efConstruction: 200))
        let hits = try docs.search([0.1, 0.2, 0.25], k: 5, parameters: SearchParameters(ef: 64))
        for hit in hits { print(hit.id, hit.distance, hit.metadata) }
        // Filtered: k results whenever k match; indexed fields answer from the metadata index.
        try docs.addFields([FieldDefinition(name: "lang", type: .keyword)])
        let english = try docs.search([0.1, 0.2, 0.25], k: 5, where: try Filter(where: ["lang=en"]))

        // Changes to several collections commit together or not at all (`db.write`), and the reads
        // inside one `db.read` all see the same committed snapshot.
        let captions = try db.createCollection(name: "captions", dimension: 3, metric: .cosine)
        try db.write { txn in
            let ids = try txn.collection(docs).insert([[0.2, 0.2, 0.2]], metadata: [["lang": "de"]])
            try txn.collection(captions).upsert([[0.0, 1.0, 0.0]], ids: ids)
        }
        let (nearest, total) = try db.read { snapshot in
            let view = try snapshot.collection(named: "docs")
            return (try view.search([0.2, 0.2, 0.2], k: 1), try view.count())
        }
        print(nearest[0].id, total)
        // README snippet end
        #expect(hits.count == 2 && hits[0].metadata["lang"] == "en")
        #expect(total == 3)
        #expect(english.map(\.metadata) == [["lang": "en"]])
        #expect(nearest[0].metadata["lang"] == "de")
        #expect(try captions.get(id: nearest[0].id) != nil)
    }

    @Test func readmeShowsTheTestedSnippet() throws {
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let begin = try #require(lines.firstIndex { $0.hasSuffix("// README snippet begin") })
        let end = try #require(lines.firstIndex { $0.hasSuffix("// README snippet end") })
        let snippet = lines[(begin + 1)..<end].map { $0.hasPrefix("        ") ? $0.dropFirst(8) : $0 }.joined(separator: "\n")
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("let db = try Database(path: \"/tmp/docs.vdb\")\n" + snippet + "\n```"),
                "README.md's Swift library example differs from the snippet in \(#filePath)")
    }
}
