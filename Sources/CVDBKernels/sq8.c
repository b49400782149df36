/* 8-bit scalar quantization kernels. Training, encoding and query preparation are portable; the
 * scan has one implementation per ISA level, dispatched through the table of the active level
 * (isa.c). See include/vdb_sq8.h. */
#include "internal.h"
#ifdef VDB_X86_64
#include <immintrin.h>
#endif
#include <math.h>
#include <string.h>

void vdb_sq8_train(const float *x, size_t n, size_t d, float *vmin, float *vdiff) {
    if (n == 0) { for (size_t j = 0; j < d; j++) { vmin[j] = 0; vdiff[j] = 1; } return; }
    for (size_t j = 0; j < d; j++) { vmin[j] = x[j]; vdiff[j] = x[j]; }   /* vdiff holds vmax for now */
    for (size_t i = 1; i < n; i++) {
        const float *r = x + i * d;
        for (size_t j = 0; j < d; j++) {
            if (r[j] < vmin[j]) vmin[j] = r[j];
            if (r[j] > vdiff[j]) vdiff[j] = r[j];
        }
    }
    for (size_t j = 0; j < d; j++) {
        float diff = vdiff[j] - vmin[j];
        vdiff[j] = diff > 0 ? diff : 1e-20f;
    }
}

void vdb_sq8_decode(const uint8_t *entry, size_t d, const float *vmin, const float *vdiff, float *out) {
    const uint8_t *c = entry + 4;
    for (size_t j = 0; j < d; j++) out[j] = vmin[j] + ((float)c[j] + 0.5f) / 255.0f * vdiff[j];
}

void vdb_sq8_encode(const float *x, size_t n, size_t d, const float *centroid,
                    const float *vmin, const float *vdiff, uint8_t *out) {
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * d;
        uint8_t *e = out + i * (4 + d);
        uint8_t *c = e + 4;
        float h = 0;
        for (size_t j = 0; j < d; j++) {
            float cj = centroid ? centroid[j] : 0.0f;
            float t = (r[j] - cj - vmin[j]) / vdiff[j];
            if (!(t > 0)) t = 0;            /* also maps NaN to 0 */
            if (t > 1) t = 1;
            int v = (int)(255.0f * t);
            if (v > 255) v = 255;
            c[j] = (uint8_t)v;
            float dec = vmin[j] + ((float)v + 0.5f) / 255.0f * vdiff[j];
            h += dec * dec + 2.0f * cj * dec;
        }
        memcpy(e, &h, 4);
    }
}

void vdb_sq8_prepare(const float *q, size_t d, const float *vmin, const float *vdiff, vdb_sq8_query *st) {
    double base = 0, qn = 0, wsum = 0;
    float wmax = 0;
    for (size_t j = 0; j < d; j++) {
        float s = vdiff[j] / 255.0f;
        base += (double)q[j] * (double)(vmin[j] + 0.5f * s);
        qn += (double)q[j] * (double)q[j];
        float w = fabsf(q[j] * s);
        wsum += w;
        if (w > wmax) wmax = w;
    }
    /* Largest weight maps to 32767, unless the whole dot product could overflow int32
       (sum |wq| * 255 must stay below 2^31): then the scale is coarsened accordingly. */
    float scale = wmax / 32767.0f;
    float sumScale = (float)(wsum * 255.0 / 2.0e9);
    if (sumScale > scale) scale = sumScale;
    if (!(scale > 0)) scale = 1.0f;
    size_t padded = (d + 63) & ~(size_t)63;
    for (size_t j = 0; j < d; j++) {
        float w = q[j] * (vdiff[j] / 255.0f) / scale;
        long v = lrintf(w);
        if (v > 32767) v = 32767;
        if (v < -32767) v = -32767;
        st->wq[j] = (int16_t)v;
    }
    for (size_t j = d; j < padded; j++) st->wq[j] = 0;
    st->wscale = scale;
    st->base = (float)base;
    st->qnorm = (float)qn;
    st->d = d;
}

/* ---------- integer dot products sum(wq[i] * c[i]) ---------- */
static inline int32_t dot_scalar(const int16_t *w, const uint8_t *c, size_t d) {
    int32_t s = 0;
#pragma clang loop vectorize(enable) interleave(enable)
    for (size_t j = 0; j < d; j++) s += (int32_t)w[j] * (int32_t)c[j];
    return s;
}

#ifdef VDB_X86_64
VDB_TARGET_AVX2 static inline int32_t dot_avx2(const int16_t *w, const uint8_t *c, size_t d) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    size_t j = 0;
    for (; j + 32 <= d; j += 32) {
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j)));
        __m256i c1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j + 16)));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(w + j))));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(c1, _mm256_loadu_si256((const __m256i *)(w + j + 16))));
    }
    for (; j + 16 <= d; j += 16) {
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j)));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(w + j))));
    }
    __m256i a = _mm256_add_epi32(acc0, acc1);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    int32_t r = _mm_cvtsi128_si32(s);
    for (; j < d; j++) r += (int32_t)w[j] * (int32_t)c[j];
    return r;
}

VDB_TARGET_AVX512 static inline int32_t dot_avx512(const int16_t *w, const uint8_t *c, size_t d) {
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    size_t j = 0;
    for (; j + 64 <= d; j += 64) {
        __m512i c0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + j)));
        __m512i c1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + j + 32)));
        acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(c0, _mm512_loadu_si512((const void *)(w + j))));
        acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(c1, _mm512_loadu_si512((const void *)(w + j + 32))));
    }
    if (j < d) {
        /* tail: weights are zero padded to a multiple of 64, codes are masked so we never read past d */
        size_t rem = d - j;
        __mmask32 m0 = rem >= 32 ? 0xffffffffu : (__mmask32)((1ull << rem) - 1);
        __mmask32 m1 = rem > 32 ? (__mmask32)((rem - 32) >= 32 ? 0xffffffffu : ((1ull << (rem - 32)) - 1)) : 0;
        __m512i c0 = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m0, c + j));
        __m512i c1 = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m1, c + j + 32));
        acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(c0, _mm512_loadu_si512((const void *)(w + j))));
        acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(c1, _mm512_loadu_si512((const void *)(w + j + 32))));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
}
#endif

/* ---------- scans: one loop per level, with that level's dot product inlined ----------
 * The dot product is exact (integers) and contraction into FMA is off for the float steps after
 * it, so every level gives the same scores bit for bit (and the same search results). */
#define VDB_SQ8_SCAN(sfx, ATTR)                                                                          \
    VDB_HIDDEN ATTR void vdb_sq8_scan_##sfx(const vdb_sq8_query *st, const uint8_t *entries, size_t n,  \
                                            int metric, float bias, float *out) {                        \
        _Pragma("clang fp contract(off)")                                                                \
        const size_t d = st->d, stride = 4 + d;                                                          \
        const float scale = st->wscale, base = st->base;                                                 \
        for (size_t i = 0; i < n; i++) {                                                                 \
            const uint8_t *e = entries + i * stride;                                                     \
            float ip = base + scale * (float)dot_##sfx(st->wq, e + 4, d);                                \
            if (metric == 0) {                                                                           \
                float h;                                                                                 \
                memcpy(&h, e, 4);                                                                        \
                float s = bias + h - 2.0f * ip;                                                          \
                out[i] = s > 0 ? s : 0;                                                                  \
            } else {                                                                                     \
                out[i] = -(bias + ip);                                                                   \
            }                                                                                            \
        }                                                                                                \
    }

VDB_SQ8_SCAN(scalar, )
#ifdef VDB_X86_64
VDB_SQ8_SCAN(avx2, VDB_TARGET_AVX2)
VDB_SQ8_SCAN(avx512, VDB_TARGET_AVX512)
#endif

void vdb_sq8_scan(const vdb_sq8_query *st, const uint8_t *entries, size_t n, int metric, float bias, float *out) {
    vdb_active_table()->sq8_scan(st, entries, n, metric, bias, out);
}
