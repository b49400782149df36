#ifndef VDB_NN_H
#define VDB_NN_H
/*
 * Neural-network helper kernels for vdb's CLIP towers (the matrix products go to BLAS; these are
 * the element-wise and attention parts around them).
 *
 * Each function runs the AVX2+FMA or the portable code by the active level of CVDBKernels' one
 * CPU dispatch (vdb_isa.h; the AVX-512 level runs the AVX2 code). Matrices are row-major float32,
 * pointers need no alignment. Every function works on a caller-given range of rows or
 * (batch, head) pairs so callers can split work across threads; ranges do not overlap in output.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Activation selector for vdb_nn_bias_act. */
enum { VDB_ACT_NONE = 0, VDB_ACT_QUICK_GELU = 1, VDB_ACT_GELU = 2 };

/**
 * LayerNorm of rows [row_begin, row_end) of x (n columns, row stride `ldx`) into out (row stride
 * `ldo`): out = (x - mean) / sqrt(var + eps) * gamma + beta, biased variance. out may equal x.
 */
void vdb_nn_layernorm(const float *x, size_t ldx, float *out, size_t ldo, size_t row_begin, size_t row_end,
                      size_t n, const float *gamma, const float *beta, float eps);

/** x[r, :] = act(x[r, :] + bias) for rows [row_begin, row_end); bias may be NULL. */
void vdb_nn_bias_act(float *x, size_t ld, size_t row_begin, size_t row_end, size_t n, const float *bias, int act);

/**
 * Multi-head scaled dot-product attention on a fused QKV matrix.
 *
 * qkv: [batch * seq, 3 * heads * head_dim] (per row: all query heads, then keys, then values).
 * out: [batch * seq, heads * head_dim]. Processes the pairs p in [pair_begin, pair_end) with
 * p = b * heads + h. `causal` masks keys after the query. `lengths` (may be NULL) gives, per batch
 * item, how many leading tokens take part: queries and keys at or beyond it are skipped (their
 * output rows are left untouched). `scratch` must hold (head_dim + 4) * (seq + 8) floats.
 * The scores are multiplied by `scale` before the softmax. `only_query` (may be NULL) restricts
 * each batch item b to the single query position only_query[b] (used for the last layer, where
 * only the pooled token's output is needed).
 */
void vdb_nn_attention(const float *qkv, float *out, size_t seq, size_t heads, size_t head_dim, int causal,
                      const int32_t *lengths, const int32_t *only_query, float scale, size_t pair_begin,
                      size_t pair_end, float *scratch);

/** In-place softmax of each of `rows` rows of length n (row stride ld). */
void vdb_nn_softmax_rows(float *x, size_t ld, size_t rows, size_t n);

/** The nn kernels of one level (same contracts as the functions above), or NULL when that level
 *  cannot run here. Tests use it to check every path in one process. */
typedef struct vdb_nn_table {
    int isa;
    void (*layernorm)(const float *x, size_t ldx, float *out, size_t ldo, size_t row_begin, size_t row_end,
                      size_t n, const float *gamma, const float *beta, float eps);
    void (*bias_act)(float *x, size_t ld, size_t row_begin, size_t row_end, size_t n, const float *bias, int act);
    void (*attention)(const float *qkv, float *out, size_t seq, size_t heads, size_t head_dim, int causal,
                      const int32_t *lengths, const int32_t *only_query, float scale, size_t pair_begin,
                      size_t pair_end, float *scratch);
    void (*softmax_rows)(float *x, size_t ld, size_t rows, size_t n);
} vdb_nn_table;

const vdb_nn_table *vdb_nn_table_for(int isa);


/* ---------------- matrix products (gemm.c) ---------------- */

/** Columns per panel of a packed weight (`vdb_nn_gemm_pack`). */
#define VDB_NN_GEMM_NR 64

/** Floats the packed form of an n x k weight takes (n rounded up to whole panels), or 0 when its
 *  byte count would not fit in a ptrdiff_t. */
size_t vdb_nn_gemm_packed_count(size_t n, size_t k);

/** Packs W [n, k] (row-major, as a Linear layer stores it) into `packed`
 *  (`vdb_nn_gemm_packed_count(n, k)` floats): panels of VDB_NN_GEMM_NR columns, each k rows of
 *  VDB_NN_GEMM_NR floats, zero past column n. */
void vdb_nn_gemm_pack(const float *w, size_t n, size_t k, float *packed);

/**
 * y[i, j] = (accumulate ? y[i, j] : 0) + sum_t x[i, t] W[j, t] + (bias ? bias[j] : 0)
 * for rows i in [0, m) and columns j in [col_begin, min(col_end, n)).
 *
 * x: [m, k] with row stride ldx; packed: W from `vdb_nn_gemm_pack`; y: row stride ldy; bias: n
 * floats or NULL. col_begin must be a multiple of VDB_NN_GEMM_NR, so threads can each take a range
 * of panels; each element's sum runs in the same order whatever the range, so results do not
 * depend on the split. Single-threaded; uses a per-thread buffer (MC x KC floats) that lives
 * until the thread exits. Returns 0, -1 when that buffer could not be allocated, -3 when
 * col_begin is not a panel boundary.
 */
int vdb_nn_gemm(const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k, const float *bias,
                int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end);

/** `vdb_nn_gemm` at a given ISA level (tests check every level in one process); -2 when that level
 *  cannot run here. */
int vdb_nn_gemm_at(int isa, const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k,
                   const float *bias, int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end);

/** uint16 values the bf16 packed form of an n x k weight takes (0 when its byte count would not fit
 *  in a ptrdiff_t). */
size_t vdb_nn_gemm_packed_bf16_count(size_t n, size_t k);

/** Packs W [n, k] as bfloat16 (rounded to nearest even) for `vdb_nn_gemm_bf16`: panels of
 *  VDB_NN_GEMM_NR columns, each ceil(k / 2) pairs of k, zero-padded. */
void vdb_nn_gemm_pack_bf16(const float *w, size_t n, size_t k, uint16_t *packed);

/**
 * `vdb_nn_gemm` with the weight in bfloat16 and x rounded to bfloat16 as it is read; products are
 * summed in float32. About twice the float32 speed on CPUs with AVX512_BF16
 * (`vdb_nn_bf16_native`), a portable (slow) loop with the same rounding elsewhere. Same
 * contract and return codes as `vdb_nn_gemm`.
 */
int vdb_nn_gemm_bf16(const float *x, size_t ldx, size_t m, const uint16_t *packed, size_t n, size_t k,
                     const float *bias, int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end);

/** `vdb_nn_gemm_bf16` with the AVX512_BF16 kernel (native != 0; -2 when it cannot run here) or the
 *  portable one (native == 0). */
int vdb_nn_gemm_bf16_at(int native, const float *x, size_t ldx, size_t m, const uint16_t *packed, size_t n, size_t k,
                        const float *bias, int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end);

/** 1 when this CPU has AVX512_BF16 and the active ISA level is AVX-512, else 0. */
int vdb_nn_bf16_native(void);

#ifdef __cplusplus
}
#endif
#endif
