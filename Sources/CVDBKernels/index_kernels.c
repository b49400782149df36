/* List scans for the IVF indexes, one implementation per ISA level; the public functions dispatch
 * through the table of the active level (isa.c). See include/vdb_index_kernels.h. */
#include "internal.h"
#ifdef VDB_X86_64
#include <immintrin.h>
#endif

/* One row at a time through the level's pair kernel. For lists streamed from memory this beats
   interleaving rows and explicit prefetching (measured on this machine: 104 ns per 384-d row vs
   137 ns for four interleaved rows and 110-120 ns with a one-row-ahead prefetch): a single
   sequential stream is what the hardware prefetcher follows best. */
#define VDB_SCAN_ROWS(sfx, ATTR)                                                                      \
    VDB_HIDDEN ATTR void vdb_scan_f32_##sfx(const float *q, const float *base, size_t n, size_t d,   \
                                            int metric, float *out) {                                 \
        if (metric == 0) {                                                                            \
            for (size_t i = 0; i < n; i++) out[i] = vdb_l2sq_##sfx(q, base + i * d, d);               \
        } else {                                                                                      \
            for (size_t i = 0; i < n; i++) out[i] = -vdb_ip_##sfx(q, base + i * d, d);                \
        }                                                                                             \
    }

VDB_SCAN_ROWS(scalar, )
/* Without a four-row kernel, scan4 is the row scan. */
VDB_HIDDEN void vdb_scan4_f32_scalar(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
    vdb_scan_f32_scalar(q, base, n, d, metric, out);
}

#ifdef VDB_X86_64
VDB_SCAN_ROWS(avx2, VDB_TARGET_AVX2)
VDB_HIDDEN void vdb_scan4_f32_avx2(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
    vdb_scan_f32_avx2(q, base, n, d, metric, out);
}
VDB_SCAN_ROWS(avx512, VDB_TARGET_AVX512)

/* AVX-512: four rows at a time, so each query chunk is loaded once per four rows and the four
   independent accumulators hide the FMA latency; one horizontal sum per row at the end. Best for
   rows already in cache (the coarse centroids). */
VDB_HIDDEN VDB_TARGET_AVX512 void vdb_scan4_f32_avx512(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
    const size_t tail = d & 15;
    const __mmask16 m = (__mmask16)((1u << tail) - 1u);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *x0 = base + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        size_t j = 0;
        if (metric == 0) {
            for (; j + 16 <= d; j += 16) {
                __m512 qv = _mm512_loadu_ps(q + j);
                __m512 t0 = _mm512_sub_ps(qv, _mm512_loadu_ps(x0 + j));
                __m512 t1 = _mm512_sub_ps(qv, _mm512_loadu_ps(x1 + j));
                __m512 t2 = _mm512_sub_ps(qv, _mm512_loadu_ps(x2 + j));
                __m512 t3 = _mm512_sub_ps(qv, _mm512_loadu_ps(x3 + j));
                a0 = _mm512_fmadd_ps(t0, t0, a0); a1 = _mm512_fmadd_ps(t1, t1, a1);
                a2 = _mm512_fmadd_ps(t2, t2, a2); a3 = _mm512_fmadd_ps(t3, t3, a3);
            }
            if (tail) {
                __m512 qv = _mm512_maskz_loadu_ps(m, q + j);
                __m512 t0 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, x0 + j));
                __m512 t1 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, x1 + j));
                __m512 t2 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, x2 + j));
                __m512 t3 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, x3 + j));
                a0 = _mm512_fmadd_ps(t0, t0, a0); a1 = _mm512_fmadd_ps(t1, t1, a1);
                a2 = _mm512_fmadd_ps(t2, t2, a2); a3 = _mm512_fmadd_ps(t3, t3, a3);
            }
            out[i] = _mm512_reduce_add_ps(a0); out[i + 1] = _mm512_reduce_add_ps(a1);
            out[i + 2] = _mm512_reduce_add_ps(a2); out[i + 3] = _mm512_reduce_add_ps(a3);
        } else {
            for (; j + 16 <= d; j += 16) {
                __m512 qv = _mm512_loadu_ps(q + j);
                a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x0 + j), a0);
                a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x1 + j), a1);
                a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x2 + j), a2);
                a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x3 + j), a3);
            }
            if (tail) {
                __m512 qv = _mm512_maskz_loadu_ps(m, q + j);
                a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x0 + j), a0);
                a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x1 + j), a1);
                a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x2 + j), a2);
                a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x3 + j), a3);
            }
            out[i] = -_mm512_reduce_add_ps(a0); out[i + 1] = -_mm512_reduce_add_ps(a1);
            out[i + 2] = -_mm512_reduce_add_ps(a2); out[i + 3] = -_mm512_reduce_add_ps(a3);
        }
    }
    for (; i < n; i++) {
        const float *x = base + i * d;
        out[i] = metric == 0 ? vdb_l2sq_avx512(q, x, d) : -vdb_ip_avx512(q, x, d);
    }
}
#endif

/* ---------- public entry points ---------- */
float vdb_score_f32(const float *a, const float *b, size_t d, int metric) {
    const vdb_kernel_table *t = vdb_active_table();
    return metric == 0 ? t->l2sq(a, b, d) : -t->ip(a, b, d);
}
void vdb_scan_f32(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
    vdb_active_table()->scan_f32(q, base, n, d, metric, out);
}
void vdb_scan4_f32(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
    vdb_active_table()->scan4_f32(q, base, n, d, metric, out);
}
