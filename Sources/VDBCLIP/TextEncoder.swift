import Foundation

/// A text tower: token ids in, projected embeddings out. `CLIPModel` holds one, chosen from the
/// checkpoint's `CLIPModelFamily` at load time, and batches texts by `usedLength`.
protocol TextEncoder: Sendable {
    /// How many leading ids of `ids` determine its embedding; the tower does not compute the rest
    /// (CLIP: up to the pooled end token; BERT: up to the last id that is not trailing padding).
    func usedLength(_ ids: [Int32]) -> Int

    /// Projected embeddings of a batch of id sequences (each at most `contextLength` ids, each
    /// below `vocabSize`, checked by the caller), written to `out` ([batch, projectionDim]).
    func forward(_ batch: [[Int32]], out: UnsafeMutablePointer<Float>, threads: Int)
}

extension TextTower: TextEncoder {
    func usedLength(_ ids: [Int32]) -> Int { poolPosition(ids) + 1 }
}

/// The text tower of `config`'s family, read from the checkpoint.
func loadTextEncoder(_ file: SafeTensorsFile, config: CLIPConfig, precision: CLIPPrecision,
                     pool: ScratchPool) throws -> any TextEncoder {
    switch config.family {
    case .clip: return try TextTower.load(file, config: config, precision: precision, pool: pool)
    case .chineseCLIP(let bert): return try BertTextTower.load(file, config: config, bert: bert, precision: precision, pool: pool)
    }
}
