import Foundation
import Testing
@testable import VDBCLIP

/// Malformed checkpoints must fail with an error naming the problem.
@Suite("CLIP checkpoint errors")
struct LoaderErrorTests {
    /// A scratch copy of a fixture checkpoint (the small bf16 one by default) that a test may damage.
    final class Scratch {
        let dir: URL
        init(_ fixture: String = "tiny-clip-bf16") throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-clip-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: Fixtures.model(fixture), to: dir)
        }
        deinit { try? FileManager.default.removeItem(at: dir) }
        var weights: URL { dir.appendingPathComponent("model.safetensors") }
        var config: URL { dir.appendingPathComponent("config.json") }

        /// Rewrites the safetensors header through `edit`, keeping the data bytes.
        func editHeader(_ edit: (inout [String: Any]) -> Void) throws {
            let data = try Data(contentsOf: weights)
            let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            var header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
            edit(&header)
            var newHeader = try JSONSerialization.data(withJSONObject: header)
            while newHeader.count % 8 != 0 { newHeader.append(0x20) }
            var len = UInt64(newHeader.count).littleEndian
            var out = Data(bytes: &len, count: 8)
            out.append(newHeader)
            out.append(data.subdata(in: (8 + n)..<data.count))
            try out.write(to: weights)
        }

        func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
            var c = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as? [String: Any])
            edit(&c)
            try JSONSerialization.data(withJSONObject: c).write(to: config)
        }

        /// Edits the `text_config` section of config.json.
        func editTextConfig(_ edit: (inout [String: Any]) -> Void) throws {
            try editConfig { c in
                var t = c["text_config"] as? [String: Any] ?? [:]
                edit(&t)
                c["text_config"] = t
            }
        }
    }

    func loadError(_ dir: URL) -> CLIPError? {
        do {
            _ = try CLIPModel.load(directory: dir, threads: 1)
            return nil
        } catch let e as CLIPError {
            return e
        } catch {
            return nil
        }
    }

    @Test func scratchCopyLoads() throws {
        let s = try Scratch()
        #expect(loadError(s.dir) == nil)
    }

    @Test func missingTensorIsNamed() throws {
        let s = try Scratch()
        try s.editHeader { $0.removeValue(forKey: "vision_model.encoder.layers.1.mlp.fc2.bias") }
        #expect(loadError(s.dir) == .missingTensor(name: "vision_model.encoder.layers.1.mlp.fc2.bias"))
    }

    @Test func wrongShapeIsNamed() throws {
        let s = try Scratch()
        try s.editHeader { h in
            var e = h["text_model.encoder.layers.0.mlp.fc1.weight"] as! [String: Any]
            e["shape"] = [32, 80]  // stored [80, 32]: same bytes, transposed shape
            h["text_model.encoder.layers.0.mlp.fc1.weight"] = e
        }
        #expect(loadError(s.dir) == .tensorShape(name: "text_model.encoder.layers.0.mlp.fc1.weight", expected: [80, 32], found: [32, 80]))
    }

    @Test func unsupportedDTypeIsNamed() throws {
        let s = try Scratch()
        try s.editHeader { h in
            var e = h["logit_scale"] as! [String: Any]
            e["dtype"] = "I16"
            h["logit_scale"] = e
        }
        #expect(loadError(s.dir) == .tensorDType(name: "logit_scale", dtype: "I16"))
    }

    @Test func truncatedFileIsCorrupt() throws {
        let s = try Scratch()
        let data = try Data(contentsOf: s.weights)
        try data.prefix(data.count - 1000).write(to: s.weights)
        guard case .corruptSafetensors(_, let problem)? = loadError(s.dir) else {
            Issue.record("expected corruptSafetensors"); return
        }
        #expect(problem.contains("truncated"))
    }

    @Test func corruptHeaderIsCorrupt() throws {
        let s = try Scratch()
        var data = try Data(contentsOf: s.weights)
        data[10] = UInt8(ascii: "#")
        try data.write(to: s.weights)
        guard case .corruptSafetensors? = loadError(s.dir) else { Issue.record("expected corruptSafetensors"); return }
        // absurd header length
        var bad = Data(repeating: 0xff, count: 8)
        bad.append(Data(count: 100))
        try bad.write(to: s.weights)
        guard case .corruptSafetensors? = loadError(s.dir) else { Issue.record("expected corruptSafetensors"); return }
        try Data([1, 2, 3]).write(to: s.weights)
        guard case .corruptSafetensors? = loadError(s.dir) else { Issue.record("expected corruptSafetensors"); return }
    }

    @Test func missingConfigSectionIsNamed() throws {
        let s = try Scratch()
        try s.editConfig { $0.removeValue(forKey: "vision_config") }
        #expect(loadError(s.dir) == .badConfig(file: s.config.path, field: "vision_config", problem: "missing"))
    }

    @Test func badConfigValuesAreNamed() throws {
        let s = try Scratch()
        try s.editTextConfig { t in
            t["num_attention_heads"] = 7
        }
        guard case .badConfig(_, let field, _)? = loadError(s.dir) else { Issue.record("expected badConfig"); return }
        #expect(field == "text_config.num_attention_heads")

        try s.editTextConfig { t in
            t["num_attention_heads"] = 4
            t["hidden_act"] = "relu"
        }
        guard case .unsupported(let what)? = loadError(s.dir) else { Issue.record("expected unsupported"); return }
        #expect(what.contains("relu"))

        try s.editTextConfig { t in
            t["hidden_act"] = "gelu"
            t["hidden_size"] = 64  // weights are 32 wide
        }
        guard case .tensorShape(let name, _, _)? = loadError(s.dir) else { Issue.record("expected tensorShape"); return }
        #expect(name.hasPrefix("text_model."))

        try s.editConfig { c in c["model_type"] = "siglip" }
        guard case .unsupported? = loadError(s.dir) else { Issue.record("expected unsupported"); return }
        try Data("{not json".utf8).write(to: s.config)
        guard case .badConfig(_, "(root)", _)? = loadError(s.dir) else { Issue.record("expected badConfig"); return }
    }

    /// Tokenizer files that would load silently wrong: no merges, ids that are not integers or
    /// point outside the model's embedding table.
    @Test func badTokenizerFilesAreRefused() throws {
        let s = try Scratch("tiny-clip")
        let merges = s.dir.appendingPathComponent("merges.txt"), vocab = s.dir.appendingPathComponent("vocab.json")
        let original = try Data(contentsOf: merges)
        for text in ["", "#version: 0.2\n", "\n\n"] {
            try Data(text.utf8).write(to: merges)
            guard case .badTokenizer(let file, let problem)? = loadError(s.dir) else { Issue.record("expected badTokenizer for \(text.debugDescription)"); continue }
            #expect(file == merges.path && problem.hasPrefix("no merges"))
        }
        try original.write(to: merges)
        let words = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: vocab)) as? [String: Any])
        for (bad, want) in [(1.5, "not an integer"), (-3, "not an integer"), (1e12, "not an integer"), (true, "is not a number")] as [(Any, String)] {
            var v = words
            v["<|endoftext|>"] = bad
            try JSONSerialization.data(withJSONObject: v).write(to: vocab)
            guard case .badTokenizer(_, let problem)? = loadError(s.dir) else { Issue.record("expected badTokenizer for \(bad)"); continue }
            #expect(problem.contains(want), "\(problem)")
        }
        var v = words
        v["zzz-extra"] = 1_000_000
        try JSONSerialization.data(withJSONObject: v).write(to: vocab)
        guard case .badTokenizer(_, let problem)? = loadError(s.dir) else { Issue.record("expected badTokenizer"); return }
        #expect(problem.contains("ids up to 1000000 but the model's vocab_size is"), "\(problem)")
    }

    /// Sizes far beyond any checkpoint are refused from config.json, before anything is sized by
    /// them (2^31 layers once made the loader ask for 400 GB).
    @Test func hostileConfigSizesAreRefused() throws {
        let s = try Scratch()
        for (field, value) in [("num_hidden_layers", 1 << 31), ("hidden_size", 1 << 40), ("num_attention_heads", 100_000), ("vocab_size", 1 << 30)] {
            try s.editTextConfig { $0[field] = value }
            guard case .badConfig(_, let f, let problem)? = loadError(s.dir) else { Issue.record("expected badConfig for \(field)"); continue }
            #expect(f == "text_config." + field && problem.contains("must be between"), "\(f): \(problem)")
            try s.editTextConfig { $0.removeValue(forKey: field) }
        }
    }

    @Test func pytorchBinOnlyExplainsConversion() throws {
        let s = try Scratch()
        try FileManager.default.removeItem(at: s.weights)
        try Data("PK".utf8).write(to: s.dir.appendingPathComponent("pytorch_model.bin"))
        let e = loadError(s.dir)
        #expect(e == .pytorchBinOnly(directory: s.dir.path))
        #expect(e?.description.contains("save_pretrained(d, safe_serialization=True)") == true)
    }

    @Test func missingFilesAreNamed() throws {
        let s = try Scratch()
        try FileManager.default.removeItem(at: s.weights)
        guard case .missingFile(let path, _)? = loadError(s.dir) else { Issue.record("expected missingFile"); return }
        #expect(path.hasSuffix("model.safetensors"))
        try FileManager.default.removeItem(at: s.config)
        guard case .missingFile(let p2, _)? = loadError(s.dir) else { Issue.record("expected missingFile"); return }
        #expect(p2.hasSuffix("config.json"))
        guard case .missingFile? = loadError(s.dir.appendingPathComponent("nope")) else { Issue.record("expected missingFile"); return }
    }

}

/// safetensors headers that describe impossible tensors, and the float16 conversion.
@Suite("safetensors header and dtype handling")
struct SafeTensorsTests {
    /// Writes a safetensors file with the given raw header JSON text and data bytes.
    static func write(header: String, data: [UInt8]) throws -> String {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var bytes = withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) }
        bytes += h + data
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-st-\(UUID().uuidString).safetensors").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Shapes whose element count overflows, or that are not lists of non-negative integers, are
    /// refused with an error naming the file, the tensor and the shape (no arithmetic trap).
    @Test(arguments: [
        ("[1099511627776, 1099511627776]", "must fit in 64 bits"),   // 2^40 x 2^40
        ("[9223372036854775807]", "must fit in 64 bits"),            // 2^63-1 elements of 4 bytes
        ("[2147483648, 2147483648, 4]", "must fit in 64 bits"),      // 2^31 x 2^31 x 4
        ("[4611686018427387904, 4]", "must fit in 64 bits"),         // 2^62 x 4
        ("[-1, 4]", "must be non-negative"),
        ("[2.5]", "2.5"),
        ("[true]", "non-negative integers"),
        ("[\"4\"]", "non-negative integers"),
        ("[18446744073709551616]", "18446744073709551616"),          // 2^64: beyond Int64
        ("4", "non-negative integers"),
    ])
    func hostileShapesAreRefused(shape: String, expected: String) throws {
        let path = try Self.write(header: #"{"w": {"dtype": "F32", "shape": \#(shape), "data_offsets": [0, 16]}}"#,
                                  data: [UInt8](repeating: 0, count: 16))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(throws: CLIPError.self) { try SafeTensorsFile(path: path) }
        guard case .corruptSafetensors(let p, let problem) = error else { Issue.record("\(error)"); return }
        #expect(p == path)
        #expect(problem.contains("'w'") && problem.contains(expected), "\(problem)")
    }

    @Test func badOffsetsAreRefused() throws {
        for (offsets, expected) in [("[0, 20]", "truncated"), ("[8, 4]", "data_offsets [8, 4]"), ("[0]", "data_offsets [0]"),
                                    ("[-4, 12]", "data_offsets [-4, 12]"), ("[0, 9223372036854775807]", "truncated"),
                                    ("[0, 12]", "12 bytes for shape [4]"), ("[0, 1.5]", "1.5"), ("[0, true]", "non-negative integers")] {
            let path = try Self.write(header: #"{"w": {"dtype": "F32", "shape": [4], "data_offsets": \#(offsets)}}"#,
                                      data: [UInt8](repeating: 0, count: 16))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let error = try #require(throws: CLIPError.self) { try SafeTensorsFile(path: path) }
            #expect(error.description.contains(expected) && error.description.contains(path), "\(offsets): \(error)")
        }
        let path = try Self.write(header: #"{"w": {"shape": [4], "data_offsets": [0, 16]}}"#, data: [UInt8](repeating: 0, count: 16))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: CLIPError.corruptSafetensors(path: path, problem: "header entry 'w' lacks 'dtype'")) { try SafeTensorsFile(path: path) }
    }

    /// A configuration asking for a tensor whose size overflows is a shape mismatch, not a trap.
    @Test func hostileExpectedShapeIsAMismatch() throws {
        let path = try Self.write(header: #"{"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#,
                                  data: [UInt8](repeating: 0, count: 16))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        #expect(throws: CLIPError.tensorShape(name: "w", expected: [1 << 40, 1 << 40], found: [4])) {
            try file.tensor("w", shape: [1 << 40, 1 << 40])
        }
        #expect(try file.tensor("w", shape: [1, 4]).count == 4)
    }

    /// The IEEE half to float conversion vdb used before `Float16(bitPattern:)` (the reference).
    static func referenceHalfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1f)
        let mant = UInt32(h & 0x3ff)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            let v = Float(mant) * 5.960464477539063e-08  // 2^-24
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | (UInt32(exp - 15 + 127) << 23) | (mant << 13))
    }

    /// Every one of the 65536 float16 bit patterns, read through the F16 tensor path, gives the
    /// same float32 bits as the hand-written conversion did (NaNs: NaN with the same sign and
    /// payload; a signalling NaN comes back quiet).
    @Test func float16TensorsConvertEveryBitPatternExactly() throws {
        let data = (0...UInt16.max).flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } }
        let path = try Self.write(header: #"{"h": {"dtype": "F16", "shape": [65536], "data_offsets": [0, 131072]}}"#, data: data)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = try SafeTensorsFile(path: path).tensor("h", shape: [65536])
        var mismatches = 0
        for i in 0...Int(UInt16.max) {
            let want = Self.referenceHalfToFloat(UInt16(i)), got = t.pointer[i]
            if want.isNaN {
                let quiet: UInt32 = 0x0040_0000
                if !(got.isNaN && (got.bitPattern | quiet) == (want.bitPattern | quiet)) { mismatches += 1 }
            } else if got.bitPattern != want.bitPattern {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
        #expect(t.pointer[0x3c00] == 1 && t.pointer[0x0001] == 5.960464477539063e-08 && t.pointer[0x7c00] == .infinity)
    }

    /// Model fingerprints (SHA-256 through swift-crypto) are the values the hand-written SHA-256
    /// gave, so fingerprints stored with existing collections still match.
    @Test func fingerprintsAreUnchanged() throws {
        #expect(ParityTests.tiny.fingerprint == "3032d8ee95edd4a2c63696f30ac50adc019a36c57d28ed1f096661b50698dee2")
        let bf16 = try CLIPModel.load(directory: Fixtures.model("tiny-clip-bf16"), threads: 1)
        #expect(bf16.fingerprint == "b7ede4ee8905831f6c18e859db05f45475f99194b1967e4b87578486daa2d6e4")
    }
}
