import Foundation

/// Typed reads from a JSON configuration object (`config.json`, `tokenizer_config.json`) with
/// transformers-style defaults: an absent or `null` key takes the default; a key of the wrong type
/// or with an impossible value is a `CLIPError.badConfig` naming the file and the field.
struct ConfigReader {
    /// The file named in error messages.
    let file: String

    /// Parses a JSON object. - Throws: `badConfig(field: "(root)")` when `data` is not one.
    func root(_ data: Data) throws -> [String: Any] {
        guard let json = try? JSONSerialization.jsonObject(with: data), let root = json as? [String: Any] else {
            throw CLIPError.badConfig(file: file, field: "(root)", problem: "not a JSON object")
        }
        return root
    }

    /// A nested object; nil when absent or null.
    func object(_ d: [String: Any], _ prefix: String, _ key: String) throws -> [String: Any]? {
        guard let v = d[key], !(v is NSNull) else { return nil }
        guard let o = v as? [String: Any] else {
            throw CLIPError.badConfig(file: file, field: prefix + key, problem: "not an object")
        }
        return o
    }

    /// An integer field in `min...max`. The default upper bound (2^20) is far above any real
    /// checkpoint and keeps a hostile value (2^31 layers, a 2^40 hidden size) from sizing
    /// anything before the weights are checked against it.
    func int(_ d: [String: Any], _ prefix: String, _ key: String, _ def: Int, min: Int = 1, max: Int = 1 << 20) throws -> Int {
        guard let v = d[key], !(v is NSNull) else { return def }
        guard let n = v as? NSNumber, !Self.isBool(n), let i = Int(exactly: n.doubleValue) else {
            throw CLIPError.badConfig(file: file, field: prefix + key, problem: "expected an integer, found \(v)")
        }
        guard i >= min, i <= max else {
            throw CLIPError.badConfig(file: file, field: prefix + key, problem: "must be between \(min) and \(max), found \(i)")
        }
        return i
    }

    func float(_ d: [String: Any], _ prefix: String, _ key: String, _ def: Double) throws -> Double {
        guard let v = d[key], !(v is NSNull) else { return def }
        guard let n = v as? NSNumber, !Self.isBool(n) else {
            throw CLIPError.badConfig(file: file, field: prefix + key, problem: "expected a number, found \(v)")
        }
        return n.doubleValue
    }

    func string(_ d: [String: Any], _ prefix: String, _ key: String, _ def: String) throws -> String {
        guard let v = d[key], !(v is NSNull) else { return def }
        guard let s = v as? String else {
            throw CLIPError.badConfig(file: file, field: prefix + key, problem: "not a string")
        }
        return s
    }

    /// A boolean; nil when absent or null.
    func bool(_ d: [String: Any], _ prefix: String, _ key: String) throws -> Bool? {
        guard let v = d[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, Self.isBool(n) else {
            throw CLIPError.badConfig(file: file, field: prefix + key, problem: "expected true or false, found \(v)")
        }
        return n.boolValue
    }

    /// The shape of one transformer tower (`hidden_size`, `intermediate_size`, `num_hidden_layers`,
    /// `num_attention_heads`, `hidden_act`, `layer_norm_eps`) with the given defaults.
    func tower(_ d: [String: Any], _ prefix: String, hidden: Int, inter: Int, layers: Int, heads: Int,
               activation: String, eps: Double) throws -> CLIPTowerConfig {
        let h = try int(d, prefix, "hidden_size", hidden)
        let nh = try int(d, prefix, "num_attention_heads", heads, max: 4096)
        guard h % nh == 0 else {
            throw CLIPError.badConfig(file: file, field: prefix + "num_attention_heads",
                                      problem: "\(nh) heads do not divide hidden_size \(h)")
        }
        let actName = try string(d, prefix, "hidden_act", activation)
        guard let act = CLIPActivation(rawValue: actName) else {
            throw CLIPError.unsupported(what: "\(file): \(prefix)hidden_act '\(actName)' (vdb implements quick_gelu and gelu)")
        }
        let e = try float(d, prefix, "layer_norm_eps", eps)
        guard e > 0, e < 1 else {
            throw CLIPError.badConfig(file: file, field: prefix + "layer_norm_eps", problem: "must be in (0, 1), found \(e)")
        }
        return CLIPTowerConfig(hiddenSize: h, intermediateSize: try int(d, prefix, "intermediate_size", inter),
                               layers: try int(d, prefix, "num_hidden_layers", layers, max: 4096), heads: nh,
                               activation: act, layerNormEps: Float(e))
    }

    /// JSON booleans arrive as NSNumber too; JSONSerialization gives them the Objective-C type
    /// `c` (char), and numbers `q`/`i`/`d`.
    static func isBool(_ n: NSNumber) -> Bool { n.objCType.pointee == 0x63 }
}
