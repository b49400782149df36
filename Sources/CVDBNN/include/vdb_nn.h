#ifndef VDB_NN_H
#define VDB_NN_H
/*
 * Neural-network helper kernels for vdb's CLIP towers (the matrix products go to BLAS; these are
 * the element-wise and attention parts around them).
 *
 * Each function runs the AVX2+FMA or the portable code by the active level of CVDBKernels' one
 * CPU dispatch (vdb_isa.h; the AVX-512 level runs the AVX2 code except for attention). Matrices are row-major float32,
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


#ifdef __cplusplus
}
#endif
#endif
