import CVDBKernels
import CVDBNN
import Foundation
import VDBSupport

/// Weights of one transformer layer (q/k/v fused into one [3D, D] matrix).
struct EncoderLayerWeights: Sendable {
    let ln1Weight: Tensor, ln1Bias: Tensor
    let qkvWeight: PackedWeight, qkvBias: Tensor
    let outWeight: PackedWeight, outBias: Tensor
    let ln2Weight: Tensor, ln2Bias: Tensor
    let fc1Weight: PackedWeight, fc1Bias: Tensor
    let fc2Weight: PackedWeight, fc2Bias: Tensor

    static func load(_ file: SafeTensorsFile, prefix: String, config c: CLIPTowerConfig,
                     names n: LayerTensorNames = .clip, precision: CLIPPrecision) throws -> EncoderLayerWeights {
        let d = c.hiddenSize, i = c.intermediateSize
        func t(_ name: String, _ shape: [Int]) throws -> Tensor { try file.tensor(prefix + name, shape: shape) }
        func w(_ name: String, _ shape: [Int]) throws -> PackedWeight {
            try PackedWeight(t(name, shape), name: prefix + name, precision: precision)
        }
        let q = try t(n.query + ".weight", [d, d]), k = try t(n.key + ".weight", [d, d])
        let v = try t(n.value + ".weight", [d, d])
        let qb = try t(n.query + ".bias", [d]), kb = try t(n.key + ".bias", [d])
        let vb = try t(n.value + ".bias", [d])
        let qkv = FloatStorage(count: 3 * d * d), qkvb = FloatStorage(count: 3 * d)
        for (j, (w, b)) in [(q, qb), (k, kb), (v, vb)].enumerated() {
            qkv.pointer.advanced(by: j * d * d).update(from: w.pointer, count: d * d)
            qkvb.pointer.advanced(by: j * d).update(from: b.pointer, count: d)
        }
        return EncoderLayerWeights(
            ln1Weight: try t(n.norm1 + ".weight", [d]), ln1Bias: try t(n.norm1 + ".bias", [d]),
            qkvWeight: try PackedWeight(Tensor(shape: [3 * d, d], storage: qkv), name: prefix + n.query + "/key/value",
                                        precision: precision),
            qkvBias: Tensor(shape: [3 * d], storage: qkvb),
            outWeight: try w(n.out + ".weight", [d, d]), outBias: try t(n.out + ".bias", [d]),
            ln2Weight: try t(n.norm2 + ".weight", [d]), ln2Bias: try t(n.norm2 + ".bias", [d]),
            fc1Weight: try w(n.fc1 + ".weight", [i, d]), fc1Bias: try t(n.fc1 + ".bias", [i]),
            fc2Weight: try w(n.fc2 + ".weight", [d, i]), fc2Bias: try t(n.fc2 + ".bias", [d]))
    }
}

/// Where one encoder layer's tensors live under its prefix: CLIP's names, or BERT's (whose
/// `norm1` follows the attention and `norm2` the MLP: post-LN).
struct LayerTensorNames: Sendable {
    let query, key, value, out, norm1, norm2, fc1, fc2: String

    static let clip = LayerTensorNames(query: "self_attn.q_proj", key: "self_attn.k_proj", value: "self_attn.v_proj",
                                       out: "self_attn.out_proj", norm1: "layer_norm1", norm2: "layer_norm2",
                                       fc1: "mlp.fc1", fc2: "mlp.fc2")
    static let bert = LayerTensorNames(query: "attention.self.query", key: "attention.self.key",
                                       value: "attention.self.value", out: "attention.output.dense",
                                       norm1: "attention.output.LayerNorm", norm2: "output.LayerNorm",
                                       fc1: "intermediate.dense", fc2: "output.dense")
}

/// Runs the layers of an encoder on x: [batch * seq, D] and writes the final hidden state of
/// token `pooled[b]` of each item b to `out` ([batch, D]).
///
/// Pre-LN (CLIP): `x += attn(LN1(x)); x += mlp(LN2(x))`. Post-LN (`postNorm`, BERT):
/// `x = LN1(x + attn(x)); x = LN2(x + mlp(x))`.
///
/// Only the pooled tokens are read afterwards, so the last layer runs its query, output
/// projection and MLP on those rows alone (keys and values still come from every token).
/// `lengths` (per item, may be nil) lets causal attention skip tokens after the pooled one, and
/// masks padding out of bidirectional attention.
func runEncoder(_ x: UnsafeMutablePointer<Float>, batch: Int, seq: Int, layers: [EncoderLayerWeights],
                config c: CLIPTowerConfig, causal: Bool, lengths: [Int32]?, pooled: [Int32], threads: Int,
                ws: Workspace, out: UnsafeMutablePointer<Float>, postNorm: Bool = false) {
    let d = c.hiddenSize, inter = c.intermediateSize, rows = batch * seq
    let act: Int32 = c.activation == .quickGELU ? Int32(VDB_ACT_QUICK_GELU) : Int32(VDB_ACT_GELU)
    let scale = 1 / Float(c.headDim).squareRoot()
    let X = UnsafeTransfer(x), H = UnsafeTransfer(ws.h), QKV = UnsafeTransfer(ws.qkv)
    let A = UnsafeTransfer(ws.attn), FF = UnsafeTransfer(ws.ff), S = UnsafeTransfer(ws.scratch)
    let per = ws.scratchPerThread, heads = c.heads, headDim = c.headDim, eps = c.layerNormEps
    let lens = lengths ?? []
    let minRows = 16
    for (index, layer) in layers.enumerated() {
        let last = index == layers.count - 1
        // h = LN1(x) (pre-LN) or x (post-LN); qkv = h Wqkv^T + b
        let g1 = layer.ln1Weight, b1 = layer.ln1Bias
        if !postNorm {
            parallelRanges(rows, threads: threads, minPerThread: minRows) { r0, r1 in
                vdb_nn_layernorm(X.value, d, H.value, d, r0, r1, d, g1.pointer, b1.pointer, eps)
            }
        }
        gemmXWt(postNorm ? x : ws.h, ldx: d, rows: rows, layer.qkvWeight, bias: layer.qkvBias, ws.qkv, ldy: 3 * d,
                accumulate: false, threads: threads)
        // attention per (item, head); in the last layer only for the pooled queries
        let pairs = batch * heads
        let parts = max(1, min(threads, pairs))
        lens.withUnsafeBufferPointer { lp in
            pooled.withUnsafeBufferPointer { pp in
                // (an empty array may still have a base address: decide on `lengths`, not on it)
                let L = lengths == nil ? nil : lp.baseAddress.map { UnsafeTransfer(UnsafeMutablePointer(mutating: $0)) }
                let P = last ? pp.baseAddress.map { UnsafeTransfer(UnsafeMutablePointer(mutating: $0)) } : nil
                DispatchQueue.concurrentPerform(iterations: parts) { k in
                    let p0 = pairs * k / parts, p1 = pairs * (k + 1) / parts
                    vdb_nn_attention(QKV.value, A.value, seq, heads, headDim, causal ? 1 : 0, L.map { UnsafePointer($0.value) },
                                     P.map { UnsafePointer($0.value) }, scale, p0, p1, S.value + k * per)
                }
            }
        }
        // The rows the rest of the layer works on: all of x, or (last layer) the pooled rows
        // gathered into `out` with their attention outputs gathered into ws.h.
        let xr: UnsafeMutablePointer<Float>, ar: UnsafeMutablePointer<Float>, n: Int
        if last {
            for b in 0..<batch {
                let r = b * seq + Int(pooled[b])
                (out + b * d).update(from: x + r * d, count: d)
                (ws.h + b * d).update(from: ws.attn + r * d, count: d)
            }
            xr = out; ar = ws.h; n = batch
        } else {
            xr = x; ar = ws.attn; n = rows
        }
        let XR = UnsafeTransfer(xr)
        // x += attn Wo^T + bo
        gemmXWt(ar, ldx: d, rows: n, layer.outWeight, bias: layer.outBias, xr, ldy: d, accumulate: true, threads: threads)
        let g2 = layer.ln2Weight, b2 = layer.ln2Bias
        if postNorm {
            parallelRanges(n, threads: threads, minPerThread: minRows) { r0, r1 in
                vdb_nn_layernorm(XR.value, d, XR.value, d, r0, r1, d, g1.pointer, b1.pointer, eps)
            }
        }
        // h = LN2(x) (pre-LN) or x (post-LN); ff = act(h W1^T + b1); x += ff W2^T + b2
        let hr = postNorm ? xr : last ? ws.attn : ws.h  // the last layer's gathered attention rows live in ws.h
        let HR = UnsafeTransfer(hr)
        if !postNorm {
            parallelRanges(n, threads: threads, minPerThread: minRows) { r0, r1 in
                vdb_nn_layernorm(XR.value, d, HR.value, d, r0, r1, d, g2.pointer, b2.pointer, eps)
            }
        }
        gemmXWt(hr, ldx: d, rows: n, layer.fc1Weight, bias: layer.fc1Bias, ws.ff, ldy: inter, accumulate: false,
                threads: threads)
        parallelRanges(n, threads: threads, minPerThread: minRows) { r0, r1 in
            vdb_nn_bias_act(FF.value, inter, r0, r1, inter, nil, act)
        }
        gemmXWt(ws.ff, ldx: inter, rows: n, layer.fc2Weight, bias: layer.fc2Bias, xr, ldy: d, accumulate: true,
                threads: threads)
        if postNorm {
            parallelRanges(n, threads: threads, minPerThread: minRows) { r0, r1 in
                vdb_nn_layernorm(XR.value, d, XR.value, d, r0, r1, d, g2.pointer, b2.pointer, eps)
            }
        }
    }
    if layers.isEmpty {
        for b in 0..<batch { (out + b * d).update(from: x + (b * seq + Int(pooled[b])) * d, count: d) }
    }
}

/// The vision tower: patch embedding, class token, positions, pre-LN, encoder, post-LN on the
/// class token, projection.
struct VisionTower: Sendable {
    let config: CLIPConfig
    let classEmbedding: Tensor      // [D]
    let patchWeight: PackedWeight   // [D, C*ps*ps] (conv weight flattened)
    let positionEmbedding: Tensor   // [T, D]
    let preLNWeight: Tensor, preLNBias: Tensor
    let layers: [EncoderLayerWeights]
    let postLNWeight: Tensor, postLNBias: Tensor
    let projection: PackedWeight    // [P, D]
    let pool: ScratchPool

    static func load(_ f: SafeTensorsFile, config: CLIPConfig, precision: CLIPPrecision, pool: ScratchPool) throws -> VisionTower {
        let v = config.vision, d = v.hiddenSize, ps = config.patchSize, ch = config.numChannels
        let p = "vision_model."
        let conv = try f.tensor(p + "embeddings.patch_embedding.weight", shape: [d, ch, ps, ps])
        if f.entries[p + "embeddings.patch_embedding.bias"] != nil {
            throw CLIPError.unsupported(what: "vision_model.embeddings.patch_embedding.bias is present (CLIP's patch embedding has no bias)")
        }
        return VisionTower(
            config: config,
            classEmbedding: try f.tensor(p + "embeddings.class_embedding", shape: [d]),
            patchWeight: try PackedWeight(Tensor(shape: [d, ch * ps * ps], storage: conv.storage),
                                          name: p + "embeddings.patch_embedding.weight", precision: precision),
            positionEmbedding: try f.tensor(p + "embeddings.position_embedding.weight", shape: [config.visionSequenceLength, d]),
            preLNWeight: try f.tensor(p + "pre_layrnorm.weight", shape: [d]),
            preLNBias: try f.tensor(p + "pre_layrnorm.bias", shape: [d]),
            layers: try (0..<v.layers).map {
                try EncoderLayerWeights.load(f, prefix: p + "encoder.layers.\($0).", config: v, precision: precision)
            },
            postLNWeight: try f.tensor(p + "post_layernorm.weight", shape: [d]),
            postLNBias: try f.tensor(p + "post_layernorm.bias", shape: [d]),
            projection: try PackedWeight(f.tensor("visual_projection.weight", shape: [config.projectionDim, d]),
                                         name: "visual_projection.weight", precision: precision),
            pool: pool)
    }

    /// Projected embeddings of `count` images whose CHW pixels start at `pixels` (each
    /// C*S*S floats), written to `out` ([count, projectionDim]).
    func forward(_ pixels: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>, threads: Int) {
        let c = config, v = c.vision, d = v.hiddenSize, ps = c.patchSize, g = c.patchesPerSide
        let S = c.imageSize, ch = c.numChannels, P = g * g, T = c.visionSequenceLength, K = ch * ps * ps
        let rows = count * T
        // extra buffers: im2col patches, the patch embeddings, x, the pooled rows
        pool.withWorkspace(rows: rows, config: v, seq: T, threads: threads,
                           extra: [count * P * K, count * P * d, rows * d, count * d]) { ws in
            let cols = ws.extra[0], patchOut = ws.extra[1], x = ws.extra[2], pooled = ws.extra[3]
            let COLS = UnsafeTransfer(cols), PIX = UnsafeTransfer(UnsafeMutablePointer(mutating: pixels))
            parallelRanges(count * P, threads: threads, minPerThread: 64) { r0, r1 in
                for r in r0..<r1 {
                    let b = r / P, pi = r % P, py = pi / g, px = pi % g
                    let img = PIX.value + b * ch * S * S
                    var dst = COLS.value + r * K
                    for cc in 0..<ch {
                        for ky in 0..<ps {
                            let src = img + cc * S * S + (py * ps + ky) * S + px * ps
                            dst.update(from: src, count: ps)
                            dst += ps
                        }
                    }
                }
            }
            // patch embeddings for all images, then place them after each class token
            gemmXWt(cols, ldx: K, rows: count * P, patchWeight, patchOut, ldy: d, accumulate: false, threads: threads)
            let X = UnsafeTransfer(x), PO = UnsafeTransfer(patchOut)
            let cls = classEmbedding, pos = positionEmbedding
            parallelRanges(count, threads: threads) { b0, b1 in
                for b in b0..<b1 {
                    let row0 = X.value + b * T * d
                    for i in 0..<d { row0[i] = cls.pointer[i] + pos.pointer[i] }
                    for p in 0..<P {
                        let dst = row0 + (p + 1) * d, src = PO.value + (b * P + p) * d, pe = pos.pointer + (p + 1) * d
                        for i in 0..<d { dst[i] = src[i] + pe[i] }
                    }
                }
            }
            let g1 = preLNWeight, b1 = preLNBias, eps = v.layerNormEps
            parallelRanges(rows, threads: threads, minPerThread: 16) { r0, r1 in
                vdb_nn_layernorm(X.value, d, X.value, d, r0, r1, d, g1.pointer, b1.pointer, eps)
            }
            // encoder, then post-LN on each class token, then project
            runEncoder(x, batch: count, seq: T, layers: layers, config: v, causal: false, lengths: nil,
                       pooled: [Int32](repeating: 0, count: count), threads: threads, ws: ws, out: pooled)
            vdb_nn_layernorm(pooled, d, pooled, d, 0, count, d, postLNWeight.pointer, postLNBias.pointer, eps)
            gemmXWt(pooled, ldx: d, rows: count, projection, out, ldy: c.projectionDim, accumulate: false, threads: threads)
        }
    }
}

/// The text tower: token + position embeddings, causal encoder, final LN at the pooled token,
/// projection.
struct TextTower: Sendable {
    let config: CLIPConfig
    let tokenEmbedding: Tensor     // [V, D]
    let positionEmbedding: Tensor  // [ctx, D]
    let layers: [EncoderLayerWeights]
    let finalLNWeight: Tensor, finalLNBias: Tensor
    let projection: PackedWeight   // [P, D]
    let pool: ScratchPool

    static func load(_ f: SafeTensorsFile, config: CLIPConfig, precision: CLIPPrecision, pool: ScratchPool) throws -> TextTower {
        let t = config.text, d = t.hiddenSize
        let p = "text_model."
        return TextTower(
            config: config,
            tokenEmbedding: try f.tensor(p + "embeddings.token_embedding.weight", shape: [config.vocabSize, d]),
            positionEmbedding: try f.tensor(p + "embeddings.position_embedding.weight", shape: [config.contextLength, d]),
            layers: try (0..<t.layers).map {
                try EncoderLayerWeights.load(f, prefix: p + "encoder.layers.\($0).", config: t, precision: precision)
            },
            finalLNWeight: try f.tensor(p + "final_layer_norm.weight", shape: [d]),
            finalLNBias: try f.tensor(p + "final_layer_norm.bias", shape: [d]),
            projection: try PackedWeight(f.tensor("text_projection.weight", shape: [config.projectionDim, d]),
                                         name: "text_projection.weight", precision: precision),
            pool: pool)
    }

    /// The position HF pools at: the first `eos_token_id`, or `argmax(ids)` for the legacy
    /// `eos_token_id == 2` (both the first `<|endoftext|>` for tokenizer output). Position 0 when
    /// there is no end token (as `argmax` of an all-false mask).
    func poolPosition(_ ids: [Int32]) -> Int {
        if config.eosTokenID == 2 {
            var best = 0
            for (i, id) in ids.enumerated() where id > ids[best] { best = i }
            return best
        }
        return ids.firstIndex(of: Int32(config.eosTokenID)) ?? 0
    }

    /// Projected embeddings of a batch of id sequences (each at most contextLength long, ids
    /// validated by the caller). Because attention is causal and the output is read at the pooled
    /// position, tokens after it cannot change the result and are not computed.
    func forward(_ batch: [[Int32]], out: UnsafeMutablePointer<Float>, threads: Int) {
        let c = config, t = c.text, d = t.hiddenSize
        let pools = batch.map(poolPosition)
        let T = (pools.max() ?? 0) + 1
        let count = batch.count, rows = count * T
        pool.withWorkspace(rows: rows, config: t, seq: T, threads: threads, extra: [rows * d, count * d]) { ws in
            let x = ws.extra[0], pooled = ws.extra[1]
            for (b, ids) in batch.enumerated() {
                for p in 0..<T {
                    let dst = x + (b * T + p) * d
                    let id = p < ids.count ? Int(ids[p]) : Int(ids.last ?? 0)
                    let te = tokenEmbedding.pointer + id * d, pe = positionEmbedding.pointer + p * d
                    for i in 0..<d { dst[i] = te[i] + pe[i] }
                }
            }
            let lengths = pools.map { Int32($0 + 1) }
            runEncoder(x, batch: count, seq: T, layers: layers, config: t, causal: true, lengths: lengths,
                       pooled: pools.map { Int32($0) }, threads: threads, ws: ws, out: pooled)
            vdb_nn_layernorm(pooled, d, pooled, d, 0, count, d, finalLNWeight.pointer, finalLNBias.pointer, t.layerNormEps)
            gemmXWt(pooled, ldx: d, rows: count, projection, out, ldy: c.projectionDim, accumulate: false, threads: threads)
        }
    }
}
