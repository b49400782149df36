/* Float distance kernels, one implementation per ISA level; the public functions dispatch through
 * the table of the active level (isa.c). See include/vdb_kernels.h. */
#include "internal.h"
#ifdef VDB_X86_64
#include <immintrin.h>
#endif

/* ---------- portable ----------
 * Plain loops that clang vectorizes for the baseline ISA (SSE2 on x86-64, NEON on arm64); the
 * pragma allows the reordering of the float sums that vectorizing a reduction needs. */
VDB_HIDDEN float vdb_l2sq_scalar(const float *a, const float *b, size_t d) {
    float s = 0;
#pragma clang loop vectorize(enable) interleave(enable)
    for (size_t i = 0; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}
VDB_HIDDEN float vdb_ip_scalar(const float *a, const float *b, size_t d) {
    float s = 0;
#pragma clang loop vectorize(enable) interleave(enable)
    for (size_t i = 0; i < d; i++) s += a[i] * b[i];
    return s;
}

#ifdef VDB_X86_64
/* ---------- AVX2 + FMA ---------- */
VDB_TARGET_AVX2 static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    __m128 s = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, s);
    s = _mm_add_ss(s, sh);
    return _mm_cvtss_f32(s);
}
VDB_HIDDEN VDB_TARGET_AVX2 float vdb_l2sq_avx2(const float *a, const float *b, size_t d) {
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
VDB_HIDDEN VDB_TARGET_AVX2 float vdb_ip_avx2(const float *a, const float *b, size_t d) {
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

/* ---------- AVX-512 ---------- */
VDB_HIDDEN VDB_TARGET_AVX512 float vdb_l2sq_avx512(const float *a, const float *b, size_t d) {
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
VDB_HIDDEN VDB_TARGET_AVX512 float vdb_ip_avx512(const float *a, const float *b, size_t d) {
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

/* ---------- batches: one loop per level, with that level's pair kernel inlined ---------- */
#define VDB_BATCHES(sfx, ATTR)                                                                        \
    VDB_HIDDEN ATTR void vdb_l2sq_batch_##sfx(const float *q, const float *base, size_t n, size_t d,  \
                                              float *out) {                                           \
        for (size_t i = 0; i < n; i++) out[i] = vdb_l2sq_##sfx(q, base + i * d, d);                   \
    }                                                                                                 \
    VDB_HIDDEN ATTR void vdb_ip_batch_##sfx(const float *q, const float *base, size_t n, size_t d,    \
                                            float *out) {                                             \
        for (size_t i = 0; i < n; i++) out[i] = vdb_ip_##sfx(q, base + i * d, d);                     \
    }                                                                                                 \
    VDB_HIDDEN ATTR void vdb_norm_sq_batch_##sfx(const float *base, size_t n, size_t d, float *out) { \
        for (size_t i = 0; i < n; i++) out[i] = vdb_ip_##sfx(base + i * d, base + i * d, d);          \
    }

VDB_BATCHES(scalar, )
#ifdef VDB_X86_64
VDB_BATCHES(avx2, VDB_TARGET_AVX2)
VDB_BATCHES(avx512, VDB_TARGET_AVX512)
#endif

/* ---------- fused score + select for exact (FLAT) search ---------- */
VDB_HIDDEN size_t vdb_select_scores_from_ip_scalar(const float *c, size_t n, float qnorm, const float *xnorms,
                                                   int l2, float threshold, uint32_t *out_idx, float *out_score) {
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

#ifdef VDB_X86_64
/* AVX2 has no compress-store: the portable loop is as good. */
VDB_HIDDEN size_t vdb_select_scores_from_ip_avx2(const float *c, size_t n, float qnorm, const float *xnorms,
                                                 int l2, float threshold, uint32_t *out_idx, float *out_score) {
    return vdb_select_scores_from_ip_scalar(c, n, qnorm, xnorms, l2, threshold, out_idx, out_score);
}

/* AVX-512: 16 scores per step, survivors written with compress-stores (usually none). */
VDB_HIDDEN VDB_TARGET_AVX512 size_t vdb_select_scores_from_ip_avx512(const float *c, size_t n, float qnorm,
                                                                     const float *xnorms, int l2, float threshold,
                                                                     uint32_t *out_idx, float *out_score) {
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

/* ---------- public entry points ---------- */
float vdb_l2sq(const float *a, const float *b, size_t d) { return vdb_active_table()->l2sq(a, b, d); }
float vdb_ip(const float *a, const float *b, size_t d) { return vdb_active_table()->ip(a, b, d); }
float vdb_norm_sq(const float *a, size_t d) { return vdb_active_table()->ip(a, a, d); }

void vdb_l2sq_batch(const float *q, const float *base, size_t n, size_t d, float *out) {
    vdb_active_table()->l2sq_batch(q, base, n, d, out);
}
void vdb_ip_batch(const float *q, const float *base, size_t n, size_t d, float *out) {
    vdb_active_table()->ip_batch(q, base, n, d, out);
}
void vdb_norm_sq_batch(const float *base, size_t n, size_t d, float *out) {
    vdb_active_table()->norm_sq_batch(base, n, d, out);
}
size_t vdb_select_scores_from_ip(const float *c, size_t n, float qnorm, const float *xnorms, int l2,
                                 float threshold, uint32_t *out_idx, float *out_score) {
    return vdb_active_table()->select_scores_from_ip(c, n, qnorm, xnorms, l2, threshold, out_idx, out_score);
}

/* Portable at every level (clang vectorizes the second; the first is a branch-free compaction). */
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
