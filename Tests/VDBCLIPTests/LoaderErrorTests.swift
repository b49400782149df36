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

    @Test func halfFloatConversion() {
        #expect(SafeTensorsFile.halfToFloat(0x3c00) == 1)
        #expect(SafeTensorsFile.halfToFloat(0xc000) == -2)
        #expect(SafeTensorsFile.halfToFloat(0x0001) == 5.960464477539063e-08)
        #expect(SafeTensorsFile.halfToFloat(0x7bff) == 65504)
        #expect(SafeTensorsFile.halfToFloat(0x7c00) == .infinity)
        #expect(SafeTensorsFile.halfToFloat(0x7e00).isNaN)
        #expect(SafeTensorsFile.halfToFloat(0x8000).sign == .minus)
    }
}

/// The SHA-256 behind model fingerprints and ingest content hashes.
@Suite struct SHA256Tests {
    @Test func knownVectors() {
        func hex(_ s: String) -> String { Array(s.utf8).withUnsafeBytes { SHA256.hex(of: $0) } }
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a' fed in uneven pieces exercises the buffering across block borders.
        var h = SHA256()
        let chunk = [UInt8](repeating: 0x61, count: 999)
        var fed = 0
        while fed < 1_000_000 {
            let n = min(999, 1_000_000 - fed)
            chunk.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            fed += n
        }
        #expect(h.finalize().map { String(format: "%02x", $0) }.joined()
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
