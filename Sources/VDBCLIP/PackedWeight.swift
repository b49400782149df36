import CVDBKernels
import VDBSupport

/// How the CLIP towers multiply their matrices.
///
/// Only the matrix products change: LayerNorm, attention, activations and every sum stay in
/// float32. The measured cost of `bfloat16` against `float32` on the parity checkpoints is in
/// Docs/benchmarks-clip.md.
public enum CLIPPrecision: String, Sendable, CaseIterable {
    /// float32 weights and activations (the default: matches `transformers` to about 1e-5).
    case float32
    /// Weights stored as bfloat16 (half the memory) and activations rounded to bfloat16 as they
    /// enter each product; products summed in float32. About twice the speed of `float32` on CPUs
    /// with AVX512_BF16; elsewhere it runs a portable loop with the same rounding, which is slow.
    case bfloat16
}

/// A Linear layer's weight W [n, k] (row-major, as checkpoints store it), packed once at load into
/// the panels `vdb_gemm` / `vdb_gemm_bf16` read front to back. The original float32 tensor
/// is not kept.
///
/// `@unchecked Sendable`: the buffer is written only in `init` and read-only afterwards.
final class PackedWeight: @unchecked Sendable {
    /// Output columns (W's rows) and the reduction length (W's columns).
    let n: Int, k: Int
    let precision: CLIPPrecision
    private let raw: UnsafeMutableRawPointer

    init(_ w: Tensor, name: String, precision: CLIPPrecision) throws {
        guard w.shape.count == 2 else {
            throw CLIPError.unsupported(what: "\(name) has shape \(w.shape); a matrix product needs 2 dimensions")
        }
        n = w.shape[0]
        k = w.shape[1]
        self.precision = precision
        let (count, width) = precision == .float32
            ? (vdb_gemm_packed_count(n, k), MemoryLayout<Float>.size)
            : (vdb_gemm_packed_bf16_count(n, k), MemoryLayout<UInt16>.size)
        let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, count > 0 || n == 0 || k == 0 else {
            throw CLIPError.unsupported(what: "\(name) of \(n) x \(k) is too large to pack")
        }
        raw = UnsafeMutableRawPointer.allocate(byteCount: max(Int(bytes), 64), alignment: 64)
        switch precision {
        case .float32: vdb_gemm_pack(w.pointer, n, k, raw.assumingMemoryBound(to: Float.self))
        case .bfloat16: vdb_gemm_pack_bf16(w.pointer, n, k, raw.assumingMemoryBound(to: UInt16.self))
        }
    }

    deinit { raw.deallocate() }

    /// y[:, c0..<c1] = (accumulate ? y : 0) + x W^T + bias on one thread; `c0` a multiple of
    /// `VDB_GEMM_NR`.
    func multiply(_ x: UnsafePointer<Float>, ldx: Int, rows m: Int, bias: UnsafePointer<Float>?, accumulate: Bool,
                  _ y: UnsafeMutablePointer<Float>, ldy: Int, columns c0: Int, _ c1: Int) {
        let acc: Int32 = accumulate ? 1 : 0
        let rc = precision == .float32
            ? vdb_gemm(x, ldx, m, raw.assumingMemoryBound(to: Float.self), n, k, bias, acc, y, ldy, c0, c1)
            : vdb_gemm_bf16(x, ldx, m, raw.assumingMemoryBound(to: UInt16.self), n, k, bias, acc, y, ldy, c0, c1)
        // -1 (bf16 only): its 384 KiB per-thread block could not be allocated; -3: a caller bug.
        precondition(rc == 0, "vdb_gemm failed (\(rc)) on \(m) x \(n) x \(k), columns \(c0)..<\(c1)")
    }
}

/// Y[M, N] (row stride ldy) = (accumulate ? Y : 0) + X[M, K] (row stride ldx) W[N, K]^T + bias,
/// on up to `threads` threads that each take a range of W's column panels.
///
/// Each output element is summed in the same order whatever the split, so the result does not
/// depend on `threads`. Columns are split at panel boundaries and only when each part keeps at
/// least `gemmMinPartWork` multiply-adds.
func gemmXWt(_ x: UnsafePointer<Float>, ldx: Int, rows m: Int, _ w: PackedWeight, bias: Tensor? = nil,
             _ y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool, threads: Int) {
    let n = w.n
    guard m > 0, n > 0 else { return }
    let panel = Int(VDB_GEMM_NR)
    let panels = (n + panel - 1) / panel
    let work = Double(m) * Double(n) * Double(w.k)  // (no Int overflow whatever the shapes)
    let parts = max(1, min(threads, panels, Int(min(work / Double(gemmMinPartWork), Double(threads)))))
    let X = UnsafeTransfer(UnsafeMutablePointer(mutating: x)), Y = UnsafeTransfer(y)
    let B = bias.map { UnsafeTransfer(UnsafeMutablePointer(mutating: $0.pointer)) }
    parallelRanges(parts, threads: parts) { p0, p1 in
        for p in p0..<p1 {
            let c0 = panels * p / parts * panel
            let c1 = min(n, panels * (p + 1) / parts * panel)
            w.multiply(X.value, ldx: ldx, rows: m, bias: B.map { UnsafePointer($0.value) }, accumulate: accumulate,
                       Y.value, ldy: ldy, columns: c0, c1)
        }
    }
}

/// Least multiply-adds per `gemmXWt` part: enough work to pay for a thread hand-off.
let gemmMinPartWork = 4 << 20
