#ifndef VDB_KERNELS_H
#define VDB_KERNELS_H
/*
 * SIMD distance kernels for vdb.
 *
 * Every function runs the implementation of the active instruction-set level (vdb_isa.h: the
 * widest the CPU has among AVX-512, AVX2+FMA and portable C, or VDB_FORCE_ISA), so one binary
 * runs everywhere and is fast where it can be. Pointers need no alignment. `d` is the dimension; batch variants read `n` vectors stored
 * contiguously (row-major, `d` floats each) and write `n` results.
 */
#include <stddef.h>
#include <stdint.h>
#include "vdb_crc32c.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Squared Euclidean distance sum((a-b)^2). */
float vdb_l2sq(const float *a, const float *b, size_t d);
/** Inner product sum(a*b). */
float vdb_ip(const float *a, const float *b, size_t d);
/** Squared L2 norm sum(a*a). */
float vdb_norm_sq(const float *a, size_t d);

/** out[i] = l2sq(q, base + i*d) for i in 0..<n. */
void vdb_l2sq_batch(const float *q, const float *base, size_t n, size_t d, float *out);
/** out[i] = ip(q, base + i*d) for i in 0..<n. */
void vdb_ip_batch(const float *q, const float *base, size_t n, size_t d, float *out);
/** out[i] = sum(base_i^2) for i in 0..<n (row norms, squared). */
void vdb_norm_sq_batch(const float *base, size_t n, size_t d, float *out);

/** Writes to out[0..<m] the indices i in 0..<n with scores[i] <= threshold, in increasing order,
 *  and returns m. `out` must have room for n entries. (Candidate pre-selection for a top-k heap.) */
size_t vdb_select_le(const float *scores, size_t n, float threshold, uint32_t *out);
/** Turns inner products c[i] = q.x_i into ranking scores in place (smaller is closer):
 *  l2 != 0: c[i] = qnorm + xnorms[i] - 2 c[i] (squared L2 from norms); l2 == 0: c[i] = -c[i]. */
void vdb_scores_from_ip(float *c, size_t n, float qnorm, const float *xnorms, int l2);

/** Fused vdb_scores_from_ip + vdb_select_le that leaves `c` untouched: for each i with score
 *  s_i <= threshold (s_i = qnorm + xnorms[i] - 2 c[i] if l2, else -c[i]) appends i to out_idx and
 *  s_i to out_score; returns the count. Outputs need room for n entries. */
size_t vdb_select_scores_from_ip(const float *c, size_t n, float qnorm, const float *xnorms, int l2,
                                 float threshold, uint32_t *out_idx, float *out_score);

/** Name of the active instruction-set level: "avx512", "avx2" or "scalar" (vdb_isa.h). */
const char *vdb_kernels_isa(void);

/** Prefetch the cache lines of [p, p+bytes) for reading (a hint; never faults). */
static inline void vdb_prefetch(const void *p, size_t bytes) {
    const char *c = (const char *)p;
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 3);
}

#ifdef __cplusplus
}
#endif
#endif
