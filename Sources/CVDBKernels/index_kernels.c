/* List scans for the IVF indexes. See include/vdb_index_kernels.h. */
#include "vdb_index_kernels.h"
#include "vdb_kernels.h"
#include <immintrin.h>

float vdb_score_f32(const float *a, const float *b, size_t d, int metric) {
    return metric == 0 ? vdb_l2sq(a, b, d) : -vdb_ip(a, b, d);
}

/* One row at a time through the dispatched kernels. For lists streamed from memory this beats
   interleaving rows and explicit prefetching (measured on this machine: 104 ns per 384-d row vs
   137 ns for four interleaved rows and 110-120 ns with a one-row-ahead prefetch): a single
   sequential stream is what the hardware prefetcher follows best. */
static void scan_rows(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
    if (metric == 0) {
        for (size_t i = 0; i < n; i++) out[i] = vdb_l2sq(q, base + i * d, d);
    } else {
        for (size_t i = 0; i < n; i++) out[i] = -vdb_ip(q, base + i * d, d);
    }
}

void vdb_scan_f32(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
    scan_rows(q, base, n, d, metric, out);
}

#if defined(__x86_64__) || defined(__i386__)
/* AVX-512: four rows at a time, so each query chunk is loaded once per four rows and the four
   independent accumulators hide the FMA latency; one horizontal sum per row at the end. Best for
   rows already in cache (the coarse centroids). */
__attribute__((target("avx512f")))
static void scan_avx512(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
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
        out[i] = metric == 0 ? vdb_l2sq(q, x, d) : -vdb_ip(q, x, d);
    }
}
#endif

typedef void (*scan_fn)(const float *, const float *, size_t, size_t, int, float *);
static scan_fn g_scan = 0;

static void scan_dispatch_init(void) {
    scan_fn f = scan_rows;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) f = scan_avx512;
#endif
    __atomic_store_n(&g_scan, f, __ATOMIC_RELEASE);
}
__attribute__((constructor)) static void vdb_scan_ctor(void) { scan_dispatch_init(); }

void vdb_scan4_f32(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
    scan_fn f = __atomic_load_n(&g_scan, __ATOMIC_ACQUIRE);
    if (!f) { scan_dispatch_init(); f = g_scan; }
    f(q, base, n, d, metric, out);
}
