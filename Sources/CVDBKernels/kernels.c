/* SIMD distance kernels with one-time runtime dispatch. See include/vdb_kernels.h. */
#include "vdb_kernels.h"
#include <immintrin.h>
#include <stdatomic.h>

/* ---------- portable ---------- */
static float l2sq_scalar(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float t0 = a[i] - b[i], t1 = a[i+1] - b[i+1], t2 = a[i+2] - b[i+2], t3 = a[i+3] - b[i+3];
        s0 += t0 * t0; s1 += t1 * t1; s2 += t2 * t2; s3 += t3 * t3;
    }
    for (; i < d; i++) { float t = a[i] - b[i]; s0 += t * t; }
    return (s0 + s1) + (s2 + s3);
}
static float ip_scalar(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += a[i] * b[i]; s1 += a[i+1] * b[i+1]; s2 += a[i+2] * b[i+2]; s3 += a[i+3] * b[i+3];
    }
    for (; i < d; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

#if defined(__x86_64__) || defined(__i386__)
/* ---------- AVX2 + FMA ---------- */
__attribute__((target("avx2,fma")))
static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    __m128 s = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, s);
    s = _mm_add_ss(s, sh);
    return _mm_cvtss_f32(s);
}
__attribute__((target("avx2,fma")))
static float l2sq_avx2(const float *a, const float *b, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) { float t = a[i] - b[i]; s += t * t; }
    return s;
}
__attribute__((target("avx2,fma")))
static float ip_avx2(const float *a, const float *b, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= d; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

/* ---------- AVX-512F ---------- */
__attribute__((target("avx512f")))
static float l2sq_avx512(const float *a, const float *b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        __m512 t0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(t0, t0, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
__attribute__((target("avx512f")))
static float ip_avx512(const float *a, const float *b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= d; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
#endif

/* ---------- dispatch ---------- */
typedef float (*pair_fn)(const float *, const float *, size_t);
static pair_fn g_l2 = 0, g_ip = 0;
static const char *g_isa = "scalar";

static void vdb_dispatch_init(void) {
    pair_fn l2 = l2sq_scalar, ip = ip_scalar;
    const char *isa = "scalar";
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        l2 = l2sq_avx512; ip = ip_avx512; isa = "avx512";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        l2 = l2sq_avx2; ip = ip_avx2; isa = "avx2";
    }
#endif
    g_isa = isa;
    __atomic_store_n(&g_ip, ip, __ATOMIC_RELEASE);
    __atomic_store_n(&g_l2, l2, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void vdb_kernels_ctor(void) { vdb_dispatch_init(); }

static inline pair_fn get_l2(void) {
    pair_fn f = __atomic_load_n(&g_l2, __ATOMIC_ACQUIRE);
    if (!f) { vdb_dispatch_init(); f = g_l2; }
    return f;
}
static inline pair_fn get_ip(void) {
    pair_fn f = __atomic_load_n(&g_ip, __ATOMIC_ACQUIRE);
    if (!f) { vdb_dispatch_init(); f = g_ip; }
    return f;
}

float vdb_l2sq(const float *a, const float *b, size_t d) { return get_l2()(a, b, d); }
float vdb_ip(const float *a, const float *b, size_t d) { return get_ip()(a, b, d); }
float vdb_norm_sq(const float *a, size_t d) { return get_ip()(a, a, d); }

void vdb_l2sq_batch(const float *q, const float *base, size_t n, size_t d, float *out) {
    pair_fn f = get_l2();
    for (size_t i = 0; i < n; i++) out[i] = f(q, base + i * d, d);
}
void vdb_ip_batch(const float *q, const float *base, size_t n, size_t d, float *out) {
    pair_fn f = get_ip();
    for (size_t i = 0; i < n; i++) out[i] = f(q, base + i * d, d);
}
void vdb_norm_sq_batch(const float *base, size_t n, size_t d, float *out) {
    pair_fn f = get_ip();
    for (size_t i = 0; i < n; i++) out[i] = f(base + i * d, base + i * d, d);
}
const char *vdb_kernels_isa(void) { get_l2(); return g_isa; }

/* ---------- helpers for exact (FLAT) search ---------- */
size_t vdb_select_le(const float *scores, size_t n, float threshold, uint32_t *out) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        /* Branch-free append: the index is always written, the count advances only on a hit. */
        out[m] = (uint32_t)i;
        m += (scores[i] <= threshold);
    }
    return m;
}
void vdb_scores_from_ip(float *c, size_t n, float qnorm, const float *xnorms, int l2) {
    if (l2) {
        for (size_t i = 0; i < n; i++) c[i] = qnorm + xnorms[i] - 2.0f * c[i];
    } else {
        for (size_t i = 0; i < n; i++) c[i] = -c[i];
    }
}
static size_t select_scores_scalar(const float *c, size_t n, float qnorm, const float *xnorms, int l2,
                                   float threshold, uint32_t *out_idx, float *out_score) {
    size_t m = 0;
    if (l2) {
        for (size_t i = 0; i < n; i++) {
            float s = qnorm + xnorms[i] - 2.0f * c[i];
            out_idx[m] = (uint32_t)i;
            out_score[m] = s;
            m += (s <= threshold);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float s = -c[i];
            out_idx[m] = (uint32_t)i;
            out_score[m] = s;
            m += (s <= threshold);
        }
    }
    return m;
}

#if defined(__x86_64__) || defined(__i386__)
/* AVX-512: 16 scores per step, survivors written with compress-stores (usually none). */
__attribute__((target("avx512f")))
static size_t select_scores_avx512(const float *c, size_t n, float qnorm, const float *xnorms, int l2,
                                   float threshold, uint32_t *out_idx, float *out_score) {
    size_t m = 0, i = 0;
    const __m512 thr = _mm512_set1_ps(threshold), qn = _mm512_set1_ps(qnorm), minus2 = _mm512_set1_ps(-2.0f);
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(c + i);
        __m512 s = l2 ? _mm512_fmadd_ps(minus2, v, _mm512_add_ps(qn, _mm512_loadu_ps(xnorms + i)))
                      : _mm512_sub_ps(_mm512_setzero_ps(), v);
        __mmask16 k = _mm512_cmp_ps_mask(s, thr, _CMP_LE_OQ);
        if (k) {
            _mm512_mask_compressstoreu_epi32(out_idx + m, k, idx);
            _mm512_mask_compressstoreu_ps(out_score + m, k, s);
            m += (size_t)__builtin_popcount((unsigned)k);
        }
        idx = _mm512_add_epi32(idx, step);
    }
    for (; i < n; i++) {
        float s = l2 ? qnorm + xnorms[i] - 2.0f * c[i] : -c[i];
        out_idx[m] = (uint32_t)i;
        out_score[m] = s;
        m += (s <= threshold);
    }
    return m;
}
#endif

size_t vdb_select_scores_from_ip(const float *c, size_t n, float qnorm, const float *xnorms, int l2,
                                 float threshold, uint32_t *out_idx, float *out_score) {
#if defined(__x86_64__) || defined(__i386__)
    get_l2();
    if (g_l2 == l2sq_avx512) return select_scores_avx512(c, n, qnorm, xnorms, l2, threshold, out_idx, out_score);
#endif
    return select_scores_scalar(c, n, qnorm, xnorms, l2, threshold, out_idx, out_score);
}
