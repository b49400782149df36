import Foundation
import Testing
import VDBCore
import VDBSupport
@testable import VDBServer

/// The hand-written JSON reader and writer of the search path agree with Foundation's decoder
/// and encoder, and refuse what JSON refuses.
@Suite struct JSONCodecTests {
    private func search(_ text: String) throws -> SearchBody {
        try Array(text.utf8).withUnsafeBytes { try SearchBody(json: $0) }
    }

    private func refusal(_ text: String) -> String? {
        do { _ = try search(text); return nil } catch let e as ServerError {
            #expect(e.code == "bad_json", "\(text): \(e)")
            return e.message
        } catch { return "\(error)" }
    }

    @Test func readsEveryFieldLikeJSONDecoder() throws {
        let body = #"""
        { "vector" : [0, -1.5, 3e2, 1E-3, 0.1, -0.0, 123456789012, 3.4028235e38],
          "text": "caf\u00e9 \"x\"\/\n\t\ud83d\ude00 ✓", "id": "18446744073709551615", "k": 7, "offset": 2,
          "with_vector": true, "params": {"ef": 64, "nprobe": null, "rerank": false, "unknown": [1, {"a": []}]},
          "filter": {"must": [{"key": "format", "match": {"value": "png"}}]}, "extra": {"nested": [true, null]} }
        """#
        let fast = try search(body)
        let slow = try JSONDecoder().decode(SearchBody.self, from: Data(body.utf8))
        #expect(fast.vector == slow.vector)
        #expect(fast.vector?.map(\.bitPattern) == slow.vector?.map(\.bitPattern))
        #expect(fast.text == slow.text && fast.text == "café \"x\"/\n\t😀 ✓")
        #expect(fast.id == slow.id && fast.id?.value == UInt64.max)
        #expect(fast.k == 7 && fast.offset == 2 && fast.with_vector == true)
        #expect(fast.params?.ef == 64 && fast.params?.nprobe == nil && fast.params?.rerank == false)
        #expect(fast.filter?.filter == slow.filter?.filter && fast.filter != nil)

        let numbers = try search(#"{"id": 42, "vector": [], "params": {}}"#)
        #expect(numbers.id?.value == 42 && numbers.vector == [] && numbers.params != nil)
        let nulls = try search(#"{"vector": null, "text": null, "filter": null}"#)
        #expect(nulls.vector == nil && nulls.text == nil && nulls.filter == nil)
    }

    @Test func floatsAreCorrectlyRounded() throws {
        // Numbers with more digits than a float holds, halfway cases and subnormals.
        let texts = ["0.1", "0.333333343267440796", "16777217", "1.00000005960464477539", "1e-45", "1.4e-45",
                     "-3.4028234663852886e38", "0.000000000000000000000000000000000000011754943"]
        let v = try #require(try search("{\"vector\": [\(texts.joined(separator: ","))]}").vector)
        #expect(v == texts.map { Float($0)! })
        // Short numbers (the reader's fast path) and long ones, in every notation, against strtof.
        var rng = SplitMix64(seed: 12)
        var many: [String] = []
        for i in 0..<3000 {
            let x = Double.random(in: -2...2, using: &rng) * (i % 3 == 0 ? 1e-3 : i % 3 == 1 ? 1 : 1e4)
            switch i % 5 {
            case 0: many.append(String(format: "%.6f", x))
            case 1: many.append(String(format: "%.3e", x))
            case 2: many.append(String(format: "%.9g", x))
            case 3: many.append(String(format: "%.2f", x))
            default: many.append("\(Int(x))e\(i % 21 - 10)")
            }
        }
        let parsed = try #require(try search("{\"vector\": [\(many.joined(separator: ","))]}").vector)
        #expect(parsed.map(\.bitPattern) == many.map { Float($0)!.bitPattern })
    }

    /// Long numbers without an exponent (numpy's and JavaScript's shortest round-trip output of
    /// doubles, "0.016539206728339195") take the one-pass Double path; halfway cases and numbers
    /// within its error of one fall back to `strtof`. Every result equals `strtof`'s.
    @Test func longPlainNumbersAreCorrectlyRounded() throws {
        // Halfway between two Floats, exactly (8388608.5, 16777217) and within 1e-10.
        var texts = ["8388608.5", "16777217", "16777219", "8388608.5000000001", "8388608.4999999999",
                     "-8388609.5", "0.1000000000000000055511151231257827", "123456789012345678.5",
                     "0.0000000000000000000001", "9999999999999999999", "0.9999999999999999999"]
        var rng = SplitMix64(seed: 99)
        for i in 0..<6000 {
            let x = Double.random(in: -1...1, using: &rng) * [1e-6, 1e-3, 1, 1e3, 1e6, 1e12][i % 6]
            switch i % 4 {
            case 0: texts.append("\(x)".contains("e") ? String(format: "%.17f", x) : "\(x)")   // shortest round trip
            case 1: texts.append(String(format: "%.\(8 + i % 12)f", x))
            case 2: texts.append("\(Double(Float(x)))".contains("e") ? "0" : "\(Double(Float(x)))")
            default:
                // Near a halfway point: a Float plus half its ulp, nudged by a few units of 1e-18.
                let f = Float(x)
                let half = (Double(f) + Double(f.nextUp)) / 2
                texts.append(String(format: "%.18f", half + Double(i % 7 - 3) * 1e-18 * max(1, abs(half))))
            }
        }
        let parsed = try #require(try search("{\"vector\": [\(texts.joined(separator: ","))]}").vector)
        #expect(parsed.count == texts.count)
        let wrong = zip(texts, parsed).filter { Float($0.0)!.bitPattern != $0.1.bitPattern }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
    }

    /// The reader takes digits eight at a time where eight bytes remain and one at a time near
    /// the body's end: every length of integer and fraction part (0-21 digits, leading zeros in
    /// the fraction, 8 and 16 digits exactly), followed by every separator JSON allows, read both
    /// ways, equals `strtof`.
    @Test func everyDigitCountReadsLikeStrtof() throws {
        var rng = SplitMix64(seed: 5)
        func digits(_ n: Int, leadingNonZero: Bool) -> String {
            String((0..<n).map { i in
                Character(String(i == 0 && leadingNonZero ? Int.random(in: 1...9, using: &rng) : Int.random(in: 0...9, using: &rng)))
            })
        }
        var texts: [String] = []
        for intDigits in 1...12 {
            for fractionDigits in 0...21 {
                for zeros in [0, 1, 3, 7] where fractionDigits > 0 || zeros == 0 {
                    let whole = intDigits == 1 && zeros > 0 ? "0" : digits(intDigits, leadingNonZero: true)
                    let fraction = fractionDigits == 0 ? "" : "." + String(repeating: "0", count: zeros) + digits(fractionDigits, leadingNonZero: false)
                    texts.append((texts.count % 2 == 0 ? "" : "-") + whole + fraction)
                }
            }
        }
        for separators in [(",", "]}"), (" ,\n", " ] }"), ("\t,", "]}   ")] {
            let body = "{\"vector\": [" + texts.joined(separator: separators.0) + separators.1
            let parsed = try #require(try search(body).vector)
            #expect(parsed.map(\.bitPattern) == texts.map { Float($0)!.bitPattern })
            // Each number last in its body: the tail is read a digit at a time.
            for text in texts.prefix(400) {
                let v = try #require(try search("{\"vector\":[" + text + separators.1).vector)
                #expect(v == [Float(text)!], "\(text)")
            }
        }
        // Bytes next to the digits ('/' 0x2f, ':' 0x3a) and a multi-byte character end a number.
        for bad in ["1/", "12:", "0.5é"] {
            #expect(refusal("{\"vector\": [\(bad)]}") != nil, "accepted: \(bad)")
        }
    }

    @Test func refusesWhatJSONRefuses() {
        let bad = [
            "", "   ", "[]", #"{"vector": [1, 2,]}"#, #"{"vector": [1 2]}"#, #"{"vector": [01]}"#, #"{"vector": [1.]}"#,
            #"{"vector": [.5]}"#, #"{"vector": [1e]}"#, #"{"vector": [+1]}"#, #"{"vector": [NaN]}"#, #"{"vector": [1e39]}"#,
            #"{"k": 1,}"#, #"{"k": 1} x"#, #"{"k" 1}"#, #"{k: 1}"#, #"{"k": 1.5}"#, #"{"k": "3"}"#, #"{"k": 99999999999999999999}"#,
            #"{"text": "a\x"}"#, "{\"text\": \"tab\there\"}", #"{"text": "\ud800"}"#, #"{"text": "\udc00"}"#, #"{"text": "abc"#,
            #"{"with_vector": tru}"#, #"{"with_vector": 1}"#, #"{"vector": [0, "x"]}"#, #"{"vector": {"a": 1}}"#,
            #"{"id": -1}"#, #"{"id": "abc"}"#, #"{"params": []}"#, #"{"params": {"ef": "x"}}"#,
            #"{"extra": "# + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}",
        ]
        for text in bad {
            #expect(refusal(text) != nil, "accepted: \(text)")
        }
        // The messages name the field or the byte.
        #expect(refusal(#"{"vector": [0, "x"]}"#) == "'vector[1]' has the wrong type, expected a number")
        #expect(refusal(#"{"k": 1.5}"#) == "'k' has the wrong type, expected an integer")
        #expect(refusal(#"{"vector": [1, 2,]}"#)?.hasPrefix("malformed JSON at byte 17") == true)
        #expect(refusal(#"{"vector": [1e39]}"#) == "'vector[0]': the number does not fit in a 32-bit float")
        // Invalid UTF-8 inside a string.
        let invalid: [UInt8] = Array(#"{"text": ""#.utf8) + [0xff, 0xfe] + Array(#""}"#.utf8)
        #expect(throws: ServerError.self) { try invalid.withUnsafeBytes { try SearchBody(json: $0) } }
    }

    private func upsert(_ text: String) throws -> UpsertBody {
        try Array(text.utf8).withUnsafeBytes { try UpsertBody(json: $0) }
    }

    private func upsertRefusal(_ text: String) -> String? {
        do { _ = try upsert(text); return nil } catch let e as ServerError { return e.message } catch { return "\(error)" }
    }

    /// `PUT .../points` bodies: the points `JSONDecoder` reads (vectors of different lengths in
    /// one body, as the reader reserves each array at the previous one's length), and refusals
    /// (the reader is as strict as for searches: no trailing comma, which `JSONDecoder` lets pass).
    @Test func readsUpsertBodiesLikeJSONDecoder() throws {
        struct Point: Decodable { var id: PointID?; var vector: [Float]; var metadata: JSONMetadata? }
        struct Body: Decodable { var points: [Point] }
        let body = #"""
        {"other": [1], "points": [{"id": 3, "vector": [0.1, -2, 3e-2], "metadata": {"a": "x", "n": 2, "f": 1.5, "b": true}},
          {"id": "18446744073709551615", "vector": [1, 2, 3, 4, 5, 6], "extra": [1]}, {"vector": [7], "metadata": null, "id": null},
          {"vector": []}]}
        """#
        let fast = try upsert(body)
        let slow = try JSONDecoder().decode(Body.self, from: Data(body.utf8))
        #expect(fast.points.map(\.vector) == slow.points.map(\.vector))
        #expect(fast.points.map(\.vector) == [[0.1, -2, 0.03], [1, 2, 3, 4, 5, 6], [7], []])
        #expect(fast.points.map(\.id) == slow.points.map(\.id))
        #expect(fast.points.map { $0.metadata?.metadata } == slow.points.map { $0.metadata?.metadata })
        #expect(fast.points[0].metadata?.metadata == ["a": .string("x"), "n": .int(2), "f": .double(1.5), "b": .bool(true)])
        let bad = ["", "{}", #"{"points": {}}"#, #"{"points": null}"#, #"{"points": [{"id": 1}]}"#, #"{"points": [{"vector": null}]}"#,
                   #"{"points": [{"id": -1, "vector": [1]}]}"#, #"{"points": [{"id": "x", "vector": [1]}]}"#,
                   #"{"points": [{"vector": [1], "metadata": {"a": [1]}}]}"#, #"{"points": [{"vector": [1,]}]}"#,
                   #"{"points": [{"vector": ["1"]}]}"#, #"{"points": []} x"#]
        for text in bad {
            #expect(throws: ServerError.self, "accepted: \(text)") { try upsert(text) }
        }
        // The messages name the field.
        #expect(upsertRefusal(#"{"points": [{"id": 1}, {"id": 2}]}"#) == "missing field 'vector' in 'points[0]'")
        #expect(upsertRefusal(#"{"points": [{"vector": [1]}, {"vector": [1, "x"]}]}"#) == "'points[1].vector[1]' has the wrong type, expected a number")
        #expect(upsertRefusal(#"{"points": [{"vector": [1], "metadata": {"a": [1]}}]}"#)?.hasPrefix("'points[0].metadata': ") == true)
    }

    @Test func writerMatchesJSONEncoder() throws {
        let hits = [
            Hit(id: PointID(UInt64.max), score: -0.25, distance: 0.25,
                metadata: JSONMetadata(["path": .string("/a/\"b\"\n\u{1}é😀"), "n": .int(-3), "w": .double(1.5), "big": .double(1e300),
                                        "whole": .double(3), "ok": .bool(true), "inf": .double(.infinity)]),
                vector: [1, 0.1, -3.25e-8, 1e30, 16777216]),
            Hit(id: PointID(0), score: 3, distance: 1e-7, metadata: [:], vector: nil),
        ]
        let answer = SearchResult(results: hits, took_ms: 0.125)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let expected = try encoder.encode(answer)
        #expect(String(decoding: answer.json, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        // Non-finite floats, which JSONEncoder refuses, are written as null.
        let odd = SearchResult(results: [Hit(id: PointID(1), score: .nan, distance: .infinity, metadata: [:], vector: nil)], took_ms: 0)
        #expect(String(decoding: odd.json, as: UTF8.self) == #"{"results":[{"distance":null,"id":1,"metadata":{},"score":null}],"took_ms":0}"#)
    }
}
