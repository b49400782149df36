import CVDBNN
import Foundation
import VDBSupport

/// Chinese-CLIP's text tower, as transformers' `ChineseCLIPTextModel` (a BERT/RoBERTa-wwm encoder)
/// plus `ChineseCLIPModel.text_projection`:
///
/// 1. embeddings: `word_embeddings[id] + token_type_embeddings[0] + position_embeddings[p]`, then
///    the embedding LayerNorm;
/// 2. post-LN layers, bidirectional attention over the item's tokens (trailing padding masked as
///    the tokenizer's `attention_mask` does): `x = LN(x + attn(x)); x = LN(x + fc2(gelu(fc1(x))))`;
/// 3. the last hidden state of `[CLS]` (position 0) through `text_projection` (no pooler).
struct BertTextTower: Sendable {
    let config: CLIPConfig
    let bert: BertTextConfig
    let wordEmbedding: Tensor      // [V, D]
    let positionEmbedding: Tensor  // [maxPositions, D]
    let tokenTypeEmbedding: Tensor // [typeVocab, D]
    let embeddingLNWeight: Tensor, embeddingLNBias: Tensor
    let layers: [EncoderLayerWeights]
    let projection: PackedWeight   // [P, D]
    let pool: ScratchPool

    static func load(_ f: SafeTensorsFile, config: CLIPConfig, bert: BertTextConfig,
                     precision: CLIPPrecision, pool: ScratchPool) throws -> BertTextTower {
        let t = config.text, d = t.hiddenSize
        let p = "text_model."
        return BertTextTower(
            config: config, bert: bert,
            wordEmbedding: try f.tensor(p + "embeddings.word_embeddings.weight", shape: [config.vocabSize, d]),
            positionEmbedding: try f.tensor(p + "embeddings.position_embeddings.weight", shape: [config.contextLength, d]),
            tokenTypeEmbedding: try f.tensor(p + "embeddings.token_type_embeddings.weight", shape: [bert.typeVocabSize, d]),
            embeddingLNWeight: try f.tensor(p + "embeddings.LayerNorm.weight", shape: [d]),
            embeddingLNBias: try f.tensor(p + "embeddings.LayerNorm.bias", shape: [d]),
            layers: try (0..<t.layers).map {
                try EncoderLayerWeights.load(f, prefix: p + "encoder.layer.\($0).", config: t, names: .bert, precision: precision)
            },
            projection: try PackedWeight(f.tensor("text_projection.weight", shape: [config.projectionDim, d]),
                                         name: "text_projection.weight", precision: precision),
            pool: pool)
    }

    /// The ids up to the last one that is not `pad_token_id` (at least one: `[CLS]` is read).
    func usedLength(_ ids: [Int32]) -> Int {
        let pad = Int32(bert.padTokenID)
        var n = ids.count
        while n > 1, ids[n - 1] == pad { n -= 1 }
        return n
    }

    func forward(_ batch: [[Int32]], out: UnsafeMutablePointer<Float>, threads: Int) {
        let c = config, t = c.text, d = t.hiddenSize
        let lengths = batch.map(usedLength)
        let T = lengths.max() ?? 1
        let count = batch.count, rows = count * T
        // extra buffers: x, the pooled rows
        pool.withWorkspace(rows: rows, config: t, seq: T, threads: threads, extra: [rows * d, count * d]) { ws in
            let x = ws.extra[0], pooled = ws.extra[1]
            // Rows past an item's length stay zero: they are masked out of attention, so they never
            // reach the item's tokens (and stay finite through the layers).
            x.initialize(repeating: 0, count: rows * d)
            let type0 = tokenTypeEmbedding.pointer
            for (b, ids) in batch.enumerated() {
                for p in 0..<lengths[b] {
                    let dst = x + (b * T + p) * d
                    let we = wordEmbedding.pointer + Int(ids[p]) * d, pe = positionEmbedding.pointer + p * d
                    for i in 0..<d { dst[i] = we[i] + type0[i] + pe[i] }
                }
            }
            let X = UnsafeTransfer(x), g = embeddingLNWeight, bias = embeddingLNBias, eps = t.layerNormEps
            parallelRanges(rows, threads: threads, minPerThread: 16) { r0, r1 in
                vdb_nn_layernorm(X.value, d, X.value, d, r0, r1, d, g.pointer, bias.pointer, eps)
            }
            runEncoder(x, batch: count, seq: T, layers: layers, config: t, causal: false,
                       lengths: lengths.map { Int32($0) }, pooled: [Int32](repeating: 0, count: count),
                       threads: threads, ws: ws, out: pooled, postNorm: true)
            gemmXWt(pooled, ldx: d, rows: count, projection, out, ldy: c.projectionDim, accumulate: false, threads: threads)
        }
    }
}

extension BertTextTower: TextEncoder {}
