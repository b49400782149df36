import Foundation
import Testing
@testable import VDBCore

/// Filtered search through the `vdb` binary: fields, --where / --filter, --explain and the plan
/// in --json, and the metadata index after a SIGKILL in the middle of an import.
@Suite struct FilterCLITests {
    /// `vdb search --json` with the plan (the keys Docs/cli.md documents).
    struct PlannedSearch: Decodable {
        struct Plan: Decodable {
            var path: String
            var index: String
            var matches: Int?
            var estimatedMatches: Int?
            var vectors: Int
            var exactThreshold: Int
            var nodesVisited: Int?
            var vectorsScored: Int?
            var scannedKeys: [String]
            enum CodingKeys: String, CodingKey {
                case path, index, matches, vectors
                case estimatedMatches = "estimated_matches", exactThreshold = "exact_threshold", nodesVisited = "nodes_visited"
                case vectorsScored = "vectors_scored", scannedKeys = "scanned_keys"
            }
        }
        var query: Int
        var results: [Shape.Search.Hit]
        var plan: Plan?
    }

    /// One JSONL record per vector: ids 0..<n, metadata lang / year / caption.
    func writeJSONL(_ box: Sandbox, _ name: String, n: Int, d: Int, seed: UInt64) throws -> String {
        let vectors = randomVectors(n, d, seed: seed)
        var text = ""
        text.reserveCapacity(n * 80)
        for i in 0..<n {
            let lang = ["en", "fr", "de"][i % 3]
            let caption = i % 10 == 0 ? "a<b" : "x"
            text += "{\"id\":\(i),\"vector\":[\(vectors[i].map { String($0) }.joined(separator: ","))],\"metadata\":{\"lang\":\"\(lang)\",\"year\":\(2000 + i % 25),\"caption\":\"\(caption)\"}}\n"
        }
        try text.write(toFile: box.path(name), atomically: true, encoding: .utf8)
        return box.path(name)
    }

    @Test func fieldsWhereFilterExplainAndSort() throws {
        let box = try Sandbox("vdb-filter"); defer { box.cleanup() }
        let file = try writeJSONL(box, "docs.jsonl", n: 600, d: 4, seed: 41)
        let created = try box.ok(["create", "docs", "--dim", "4", "--field", "lang:keyword", "--field", "year:int", "--db", box.db])
        #expect(created.stdout.contains("fields lang:keyword, year:int"))
        try box.ok(["import", "docs", file, "--db", box.db])
        let list = try box.ok(["field", "list", "docs", "--json", "--db", box.db])
        #expect(list.stdout.contains("{\"collection\":\"docs\",\"fields\":[{\"name\":\"lang\",\"type\":\"keyword\"},{\"name\":\"year\",\"type\":\"int\"}]}"))

        // --where, split at the first operator; the plan names the scanned (undeclared) key.
        let r = try box.ok(["search", "docs", "-k", "5", "--vector", "0.1,0.2,0.3,0.4", "--where", "caption=a<b",
                            "--where", "lang in en,fr", "--json", "--db", box.db])
        let found = try #require(try decodeLines(PlannedSearch.self, r.stdout).first)
        #expect(found.results.count == 5)
        #expect(found.results.allSatisfy { $0.metadata["caption"] == .string("a<b") && $0.metadata["lang"] != .string("de") })
        let plan = try #require(found.plan)
        #expect(plan.path == "exact" && plan.matches == 40 && plan.scannedKeys == ["caption"] && plan.vectorsScored == 40)
        #expect(plan.vectors == 600 && plan.exactThreshold == SearchParameters.defaultFilterExactThreshold)

        // --filter JSON with an HNSW index forced onto the index path (--exact-below 0).
        try box.ok(["index", "build", "docs", "--type", "hnsw", "--M", "8", "--threads", "1", "--db", box.db])
        let json = "{\"must\":[{\"key\":\"year\",\"range\":{\"gte\":2010,\"lt\":2020}}],\"must_not\":[{\"key\":\"lang\",\"match\":{\"value\":\"de\"}}]}"
        let viaIndex = try box.ok(["search", "docs", "-k", "7", "--vector", "0.1,0.2,0.3,0.4", "--filter", json,
                                   "--exact-below", "0", "--json", "--db", box.db])
        let indexed = try #require(try decodeLines(PlannedSearch.self, viaIndex.stdout).first)
        #expect(indexed.results.count == 7)
        #expect(indexed.results.allSatisfy {
            guard case .int(let y)? = $0.metadata["year"] else { return false }
            return (2010..<2020).contains(y) && $0.metadata["lang"] != .string("de")
        })
        #expect(indexed.plan?.index == "hnsw" && ["index", "index_then_exact"].contains(indexed.plan?.path ?? ""))
        #expect(indexed.plan?.scannedKeys == [] && indexed.plan?.nodesVisited != nil)
        #expect(indexed.plan?.matches == (0..<600).filter { (10..<20).contains($0 % 25) && $0 % 3 != 2 }.count)

        // --explain in text, --sort by a field (descending).
        let text = try box.ok(["search", "docs", "-k", "4", "--vector", "0.1,0.2,0.3,0.4", "--where", "lang=en", "--explain",
                               "--sort", "year:desc", "--db", box.db])
        #expect(text.lines.first?.hasPrefix("plan: path exact, index hnsw, matches 200 of 600") == true, "\(text)")
        let years = text.lines.dropFirst(2).compactMap { line -> Int? in
            guard let r = line.range(of: "\"year\":") else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }
        #expect(years.count == 4 && years == years.sorted(by: >))

        // Bad filters: a command-line error that points at the problem.
        let bad = try box.run(["search", "docs", "--vector", "0.1,0.2,0.3,0.4", "--where", "year>=abc", "--db", box.db])
        #expect(bad.status == 64 && bad.stderr.contains("'>=' needs a number or a date") && bad.stderr.contains("column 7"))
        let badJSON = try box.run(["search", "docs", "--vector", "0.1,0.2,0.3,0.4", "--filter", "{\"must\":[{\"key\":\"year\",\"range\":{\"gte\":true}}]}", "--db", box.db])
        #expect(badJSON.status == 64 && badJSON.stderr.contains("filter.must[0].range.gte"))
        let badField = try box.run(["create", "x", "--dim", "2", "--field", "lang", "--db", box.db])
        #expect(badField.status == 64 && badField.stderr.contains("needs a type"))
        // A value that does not fit a declared field is refused.
        try "{\"vector\":[1,2,3,4],\"metadata\":{\"year\":\"soon\"}}\n".write(toFile: box.path("bad.jsonl"), atomically: true, encoding: .utf8)
        let refused = try box.run(["import", "docs", box.path("bad.jsonl"), "--db", box.db])
        #expect(refused.status == 1 && refused.stderr.contains("'year'"))

        // field add indexes existing vectors; drop removes the field.
        try box.ok(["field", "add", "docs", "caption:keyword", "--db", box.db])
        let info = try box.ok(["info", "docs", "--json", "--db", box.db])
        #expect(info.stdout.contains("{\"name\":\"caption\",\"type\":\"keyword\"}"))
        let again = try box.ok(["search", "docs", "-k", "5", "--vector", "0.1,0.2,0.3,0.4", "--where", "caption=a<b", "--json", "--db", box.db])
        #expect(try decodeLines(PlannedSearch.self, again.stdout).first?.plan?.scannedKeys == [])
        try box.ok(["field", "drop", "docs", "caption", "--db", box.db])
        #expect(try box.run(["field", "drop", "docs", "caption", "--db", box.db]).status == 1)
        try Database(path: box.db).collection(named: "docs").verifyFieldIndex()
    }

    /// SIGKILL `vdb import` of vectors with indexed metadata: the committed batches and their
    /// metadata index agree, and writes continue.
    @Test func metadataIndexMatchesAfterKilledImport() throws {
        let box = try Sandbox("vdb-filter-kill"); defer { box.cleanup() }
        let n = 60_000, batch = 50
        let file = try writeJSONL(box, "big.jsonl", n: n, d: 4, seed: 42)
        try box.ok(["create", "big", "--dim", "4", "--field", "lang:keyword", "--field", "year:int", "--db", box.db])
        let killed = try box.killMidway(["import", "big", file, "--resume", "--batch-size", "\(batch)", "--db", box.db],
                                        collection: "big", atLeast: 10 * batch)
        #expect(killed, "the import finished before it could be killed")

        let c = try Database(path: box.db).collection(named: "big")
        let count = try c.count()
        #expect(count % batch == 0 && count >= 10 * batch && count < n, "count \(count)")
        try c.verifyFieldIndex()
        let q: [Float] = [0.1, 0.2, 0.3, 0.4]
        let en = try c.searchExplained(contiguous: q, k: 3, where: try Filter(where: ["lang=en"]))[0].plan
        #expect(en.matches == (0..<count).filter { $0 % 3 == 0 }.count)
        // Writes continue and keep the index in step.
        try c.upsert([[1, 2, 3, 4]], ids: [0], metadata: [["lang": "fr", "year": 1999]])
        try c.delete(ids: [1, 2])
        try c.verifyFieldIndex()
        #expect(try c.search(q, k: 5, where: try Filter(where: ["year<2000"])).map(\.id) == [0])
    }
}
