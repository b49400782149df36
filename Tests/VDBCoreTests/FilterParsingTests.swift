import Foundation
import Testing
@testable import VDBCore

/// The filter language: the `--where` shorthand, the JSON form, dates, and the messages of bad input.
@Suite struct FilterParsingTests {
    func shorthand(_ text: String) throws -> FilterCondition { try FilterCondition(where: text) }

    /// The message of the error `body` throws (fails the test if it throws none or another kind).
    func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            Issue.record("expected an invalid filter error")
            return ""
        } catch let VDBError.invalidFilter(m) {
            return m
        } catch {
            Issue.record("expected an invalid filter error, got \(error)")
            return ""
        }
    }

    @Test func everyOperator() throws {
        #expect(try shorthand("lang=en") == .match(key: "lang", .value("en")))
        #expect(try shorthand("lang != en") == .filter(Filter(mustNot: [.match(key: "lang", .value("en"))])))
        #expect(try shorthand("year<2020") == .range(key: "year", try FilterRange(lt: 2020)))
        #expect(try shorthand("year<=2020") == .range(key: "year", try FilterRange(lte: 2020)))
        #expect(try shorthand("year>2020") == .range(key: "year", try FilterRange(gt: 2020)))
        #expect(try shorthand("score >= 0.5") == .range(key: "score", try FilterRange(gte: 0.5)))
        #expect(try shorthand("format in jpeg, png") == .match(key: "format", .any(["jpeg", "png"])))
        #expect(try shorthand("format not in gif") == .filter(Filter(mustNot: [.match(key: "format", .any(["gif"]))])))
        #expect(try shorthand("x  IN  1,2") == .match(key: "x", .any([1, 2])))
    }

    @Test func splitsAtTheFirstOperator() throws {
        #expect(try shorthand("caption=a<b") == .match(key: "caption", .value("a<b")))
        #expect(message { try shorthand("caption<a=b") }.contains("'<' needs a number or a date like 2024-06-01, got 'a=b'"))
        #expect(try shorthand("q=x in y") == .match(key: "q", .value("x in y")))
        #expect(try shorthand("a!=b=c") == .filter(Filter(mustNot: [.match(key: "a", .value("b=c"))])))
        #expect(try shorthand("name=") == .match(key: "name", .value("")))
        // "in" only as a word between blanks: this key holds "in".
        #expect(try shorthand("within=3") == .match(key: "within", .value(3)))
    }

    @Test func valuesAreTyped() throws {
        #expect(try shorthand("n=42") == .match(key: "n", .value(.int(42))))
        #expect(try shorthand("n=-4.5") == .match(key: "n", .value(.double(-4.5))))
        #expect(try shorthand("ok=true") == .match(key: "ok", .value(.bool(true))))
        #expect(try shorthand("n=\"42\"") == .match(key: "n", .value(.string("42"))))
        #expect(try shorthand("tag in \"a,b\",c") == .match(key: "tag", .any(["a,b", "c"])))
        #expect(try shorthand("x=inf") == .match(key: "x", .value("inf")))
    }

    @Test func dates() throws {
        #expect(try shorthand("taken_at>=2024-06-01") == .range(key: "taken_at", try FilterRange(gte: "2024-06-01")))
        #expect(MetadataTime.seconds("2024-06-01") == 1_717_200_000)
        #expect(MetadataTime.seconds("2024-06-01T10:30:00") == 1_717_237_800)
        #expect(MetadataTime.seconds("2024-06-01 10:30:00") == 1_717_237_800)
        #expect(MetadataTime.seconds("2024:06:01 10:30:00") == 1_717_237_800)
        #expect(MetadataTime.seconds("2024-06-01T10:30") == 1_717_237_800)
        #expect(MetadataTime.seconds("2024-06-01T12:30:00+02:00") == 1_717_237_800)
        #expect(MetadataTime.seconds("2024-06-01T05:30:00-0500") == 1_717_237_800)
        #expect(MetadataTime.seconds("2024-06-01T10:30:00Z") == 1_717_237_800)
        #expect(MetadataTime.seconds("2024-06-01T10:30:00.25") == 1_717_237_800.25)
        #expect(MetadataTime.seconds("1969-12-31T23:59:59") == -1)
        #expect(MetadataTime.seconds("2024-02-29") != nil)
        for bad in ["2023-02-29", "2024-13-01", "2024-06-31", "2024-06-01T24:00", "2024:06:01", "2024-6-1", "June 1", "", "2024-06-01T10:30:00+"] {
            #expect(MetadataTime.seconds(bad) == nil, "\(bad)")
        }
        #expect(MetadataTime.format(1_717_237_800) == "2024-06-01T10:30:00")
        #expect(MetadataTime.format(1_717_237_800.5) == "2024-06-01T10:30:00.500")
        #expect(MetadataTime.format(1_717_237_800, offset: 7200) == "2024-06-01T12:30:00")
        #expect(MetadataTime.format(-1) == "1969-12-31T23:59:59")
    }

    @Test func badShorthandNamesTheProblem() {
        #expect(message { try shorthand("lang") }.contains("no operator"))
        #expect(message { try shorthand("=en") }.contains("no key before '='"))
        #expect(message { try shorthand("=en") }.contains("column 1"))
        let m = message { try shorthand("year>=abc") }
        #expect(m.contains("'>=' needs a number or a date") && m.contains("'abc'") && m.contains("column 7"), "\(m)")
        #expect(message { try shorthand("taken_at<2024-13-01") }.contains("'2024-13-01'"))
        #expect(message { try shorthand("year<") }.contains("needs a number or a date after it"))
        #expect(message { try shorthand("f in ") }.contains("list after 'in' is empty"))
        #expect(message { try shorthand("f in a,,b") }.contains("item 2 of the list is empty"))
        #expect(message { try shorthand("f in \"a,b") }.contains("unterminated quote"))
    }

    @Test func json() throws {
        let f = try Filter(json: """
            {"must": [{"key": "lang", "match": {"value": "en"}},
                      {"key": "taken_at", "range": {"gte": "2024-06-01", "lt": 1800000000}}],
             "should": [{"key": "camera", "match": {"any": ["Pixel 7", "Pixel 8"]}}, {"is_null": {"key": "camera"}}],
             "must_not": {"key": "format", "match": {"except": ["jpeg", 1, 2.5, true]}}}
            """)
        #expect(f.must == [.match(key: "lang", .value("en")),
                           .range(key: "taken_at", try FilterRange(gte: "2024-06-01", lt: 1_800_000_000))])
        #expect(f.should == [.match(key: "camera", .any(["Pixel 7", "Pixel 8"])), .isNull(key: "camera")])
        #expect(f.mustNot == [.match(key: "format", .except([.string("jpeg"), .int(1), .double(2.5), .bool(true)]))])
        // Round trip through Codable and the JSON text.
        let again = try JSONDecoder().decode(Filter.self, from: try JSONEncoder().encode(f))
        #expect(again == f)
        #expect(try Filter(json: f.json) == f)
        // Nested filters and the shorthand's != survive the round trip.
        let nested = try Filter(where: ["a!=1", "b in x,y"])
        #expect(try Filter(json: nested.json) == nested)
        #expect(try Filter(json: "{}").isEmpty)
    }

    @Test func badJSONNamesThePath() {
        #expect(message { try Filter(json: "{\"must\": [") }.contains("not valid JSON"))
        #expect(message { try Filter(json: "[]") }.contains("filter: expected an object"))
        #expect(message { try Filter(json: "{\"mus\": []}") }.contains("unknown key 'mus'"))
        let m = message { try Filter(json: "{\"must\": [{\"key\": \"a\", \"match\": {\"value\": 1}}, {\"key\": \"year\", \"range\": {\"gte\": true}}]}") }
        #expect(m.contains("filter.must[1].range.gte") && m.contains("got true"), "\(m)")
        #expect(message { try Filter(json: "{\"must\": [{\"key\": \"a\", \"range\": {}}]}") }.contains("filter.must[0].range: give at least one"))
        #expect(message { try Filter(json: "{\"must\": [{\"key\": \"a\", \"range\": {\"gte\": \"soon\"}}]}") }.contains("\"soon\""))
        #expect(message { try Filter(json: "{\"should\": [{\"key\": \"a\"}]}") }.contains("filter.should[0]: condition on 'a' needs match or range"))
        #expect(message { try Filter(json: "{\"must\": [{\"key\": \"a\", \"match\": {\"value\": [1]}}]}") }.contains("filter.must[0].match.value: expected a string, number or boolean, got a list"))
        #expect(message { try Filter(json: "{\"must\": [{\"key\": \"a\", \"match\": {\"text\": \"x\"}}]}") }.contains("full-text"))
        #expect(message { try Filter(json: "{\"must\": [{\"value\": 3}]}") }.contains("expected a condition"))
        // Through JSONDecoder (what a server decoding a request does): a DecodingError with the message.
        do {
            _ = try JSONDecoder().decode(Filter.self, from: Data("{\"must\": [{\"key\": 3, \"match\": {\"value\": 1}}]}".utf8))
            Issue.record("expected an error")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.debugDescription.contains("filter.must[0].key: expected a non-empty string, got 3"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func scanSemantics() throws {
        let m: Metadata = ["lang": "en", "year": 2020, "score": 0.5, "ok": true, "taken_at": "2024-06-02T08:00:00", "code": "5"]
        func check(_ w: [String], _ expected: Bool, fields: [FieldDefinition] = []) throws {
            #expect(try Filter(where: w).matches(m, fields: fields) == expected, "\(w)")
        }
        try check(["lang=en"], true)
        try check(["year=2020.0"], true)
        try check(["year=\"2020\""], true)
        try check(["code=5"], true)
        try check(["ok=true"], true)
        try check(["missing!=x"], true)
        try check(["lang!=en"], false)
        try check(["lang in fr,en"], true)
        try check(["lang not in fr,en"], false)
        try check(["year>=2020", "year<2021"], true)
        try check(["score>0.5"], false)
        try check(["taken_at>=2024-06-01"], true)
        try check(["taken_at>=2024-06-03"], false)
        try check(["lang<3"], false)
        // Typed (indexed) fields compare by type: a time equals another spelling of the same instant.
        try check(["taken_at=2024-06-02 08:00:00"], false)
        try check(["taken_at=2024-06-02 08:00:00"], true, fields: [FieldDefinition(name: "taken_at", type: .time)])
        #expect(try Filter(json: "{\"must\": [{\"is_null\": {\"key\": \"gone\"}}]}").matches(m))
        #expect(try !Filter(json: "{\"must\": [{\"key\": \"lang\", \"match\": {\"except\": [\"en\"]}}]}").matches(m))
        #expect(try !Filter(json: "{\"must\": [{\"key\": \"gone\", \"match\": {\"except\": [\"en\"]}}]}").matches(m))
        #expect(try Filter(json: "{\"should\": [{\"key\": \"lang\", \"match\": {\"value\": \"fr\"}}, {\"key\": \"year\", \"range\": {\"gt\": 2000}}]}").matches(m))
    }

    @Test func fieldDeclarations() throws {
        #expect(try FieldDefinition(parsing: "lang:keyword") == FieldDefinition(name: "lang", type: .keyword))
        #expect(try FieldDefinition(parsing: "a:b:TIME") == FieldDefinition(name: "a:b", type: .time))
        #expect(throws: VDBError.self) { try FieldDefinition(parsing: "lang") }
        #expect(throws: VDBError.self) { try FieldDefinition(parsing: "lang:text") }
        #expect(throws: VDBError.self) { try FieldDefinition(parsing: ":int") }
    }
}
