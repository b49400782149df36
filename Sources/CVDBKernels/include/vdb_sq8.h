#ifndef VDB_SQ8_H
#define VDB_SQ8_H
/*
 * 8-bit scalar quantization kernels (Faiss QT_8bit: uniform per dimension), optionally of
 * residuals x - c with respect to a coarse centroid c (Faiss `by_residual`).
 *
 * A residual r = x - c is stored as codes k[i] = clamp(floor(255 * (r[i] - vmin[i]) / vdiff[i]), 0, 255)
 * and decodes to r'[i] = vmin[i] + (k[i] + 0.5) / 255 * vdiff[i]; without a centroid, c = 0.
 * Each entry is 4 + d bytes: a float header h = |r'|^2 + 2 c . r' followed by the d codes.
 *
 * Distances are computed on the codes without decoding. For a query q:
 *   q . r' = base + sum_i w[i] * k[i]      with w[i] = q[i] * vdiff[i] / 255,
 *                                                 base = sum_i q[i] * (vmin[i] + 0.5 * vdiff[i] / 255)
 *   |q - (c + r')|^2 = |q - c|^2 + h - 2 q . r'        (bias = |q - c|^2, from the coarse step)
 *   q . (c + r')     = q . c + q . r'                   (bias = q . c)
 * The weights w are quantized to int16 with one scale per query (relative error ~1e-5), so the
 * inner sum is an exact integer dot product (AVX-512BW / AVX2 `pmaddwd` / portable C, by the
 * active level of vdb_isa.h), so every level gives the same score.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Per-query precomputed state for scanning SQ8 codes. `wq` holds `d` rounded up to 64 int16 weights. */
typedef struct {
    int16_t *wq;        /* quantized weights, length round_up(d, 64), zero padded */
    float wscale;       /* w[i] ~= wq[i] * wscale */
    float base;         /* sum_i q[i] * (vmin[i] + 0.5 * vdiff[i] / 255) */
    float qnorm;        /* |q|^2 */
    size_t d;
} vdb_sq8_query;

/** Trains per-dimension min and (max - min) over `n` vectors. */
void vdb_sq8_train(const float *x, size_t n, size_t d, float *vmin, float *vdiff);

/**
 * Encodes `n` vectors as residuals from `centroid` (NULL = no centroid). Each entry is `4 + d`
 * bytes: the float header |r'|^2 + 2 c . r' (unaligned, native endian) followed by `d` codes.
 */
void vdb_sq8_encode(const float *x, size_t n, size_t d, const float *centroid,
                    const float *vmin, const float *vdiff, uint8_t *out);

/** Decodes one entry's codes (skipping its 4-byte header) into the residual `out` (d floats). */
void vdb_sq8_decode(const uint8_t *entry, size_t d, const float *vmin, const float *vdiff, float *out);

/** Prepares `st` for query `q`. `st->wq` must point to round_up(d, 64) int16. */
void vdb_sq8_prepare(const float *q, size_t d, const float *vmin, const float *vdiff, vdb_sq8_query *st);

/**
 * Scores `n` entries (each `4 + d` bytes, contiguous) of one list against the prepared query;
 * smaller is closer: metric 0 = squared L2 (bias = |q - c|^2), metric 1 = negated inner product
 * (bias = q . c). Without a centroid, bias = |q|^2 (L2) or 0 (inner product).
 */
void vdb_sq8_scan(const vdb_sq8_query *st, const uint8_t *entries, size_t n, int metric, float bias, float *out);

#ifdef __cplusplus
}
#endif
#endif
