#ifndef VDB_GEMM_H
#define VDB_GEMM_H
/*
 * vdb's packed matrix product (gemm.c): Y = [Y +] X W^T [+ bias], with W packed once into panels
 * of VDB_GEMM_NR columns; float32 (AVX-512 / AVX2+FMA / portable, by CVDBKernels' active ISA
 * level) and an opt-in bfloat16 variant (AVX512_BF16, portable fallback with the same rounding).
 * Used by the CLIP towers (weights packed at load) and by exact batch search (base rows packed
 * per panel), where it does not depend on which kernels OpenBLAS picks.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Columns per panel of a packed weight (`vdb_gemm_pack`). */
#define VDB_GEMM_NR 64

/** Floats the packed form of an n x k weight takes (n rounded up to whole panels), or 0 when its
 *  byte count would not fit in a ptrdiff_t. */
size_t vdb_gemm_packed_count(size_t n, size_t k);

/** Packs W [n, k] (row-major, as a Linear layer stores it) into `packed`
 *  (`vdb_gemm_packed_count(n, k)` floats): panels of VDB_GEMM_NR columns, each k rows of
 *  VDB_GEMM_NR floats, zero past column n. */
void vdb_gemm_pack(const float *w, size_t n, size_t k, float *packed);

/**
 * y[i, j] = (accumulate ? y[i, j] : 0) + sum_t x[i, t] W[j, t] + (bias ? bias[j] : 0)
 * for rows i in [0, m) and columns j in [col_begin, min(col_end, n)).
 *
 * x: [m, k] with row stride ldx; packed: W from `vdb_gemm_pack`; y: row stride ldy; bias: n
 * floats or NULL. col_begin must be a multiple of VDB_GEMM_NR, so threads can each take a range
 * of panels; each element's sum runs in the same order whatever the range, so results do not
 * depend on the split. Single-threaded, no allocation. Returns 0, or -3 when col_begin is not a
 * panel boundary.
 */
int vdb_gemm(const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k, const float *bias,
                int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end);

/** `vdb_gemm` at a given ISA level (tests check every level in one process); -2 when that level
 *  cannot run here. */
int vdb_gemm_at(int isa, const float *x, size_t ldx, size_t m, const float *packed, size_t n, size_t k,
                   const float *bias, int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end);

/** uint16 values the bf16 packed form of an n x k weight takes (0 when its byte count would not fit
 *  in a ptrdiff_t). */
size_t vdb_gemm_packed_bf16_count(size_t n, size_t k);

/** Packs W [n, k] as bfloat16 (rounded to nearest even) for `vdb_gemm_bf16`: panels of
 *  VDB_GEMM_NR columns, each ceil(k / 2) pairs of k, zero-padded. */
void vdb_gemm_pack_bf16(const float *w, size_t n, size_t k, uint16_t *packed);

/**
 * `vdb_gemm` with the weight in bfloat16 and x rounded to bfloat16 as it is read; products are
 * summed in float32. About twice the float32 speed on CPUs with AVX512_BF16
 * (`vdb_gemm_bf16_native`), a portable (slow) loop with the same rounding elsewhere. Same
 * contract as `vdb_gemm`; it packs X into a per-thread buffer (384 KiB, kept until the thread
 * exits) and returns -1 when that cannot be allocated.
 */
int vdb_gemm_bf16(const float *x, size_t ldx, size_t m, const uint16_t *packed, size_t n, size_t k,
                     const float *bias, int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end);

/** `vdb_gemm_bf16` with the AVX512_BF16 kernel (native != 0; -2 when it cannot run here) or the
 *  portable one (native == 0). */
int vdb_gemm_bf16_at(int native, const float *x, size_t ldx, size_t m, const uint16_t *packed, size_t n, size_t k,
                        const float *bias, int accumulate, float *y, size_t ldy, size_t col_begin, size_t col_end);

/** 1 when this CPU has AVX512_BF16 and the active ISA level is AVX-512, else 0. */
int vdb_gemm_bf16_native(void);


#ifdef __cplusplus
}
#endif
#endif
