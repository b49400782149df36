/* Pillow-compatible antialiased bicubic resampling, evaluated only inside a crop window, and
   conversion to normalized channels-first floats. */
#include "internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VDB_X86 1
#endif

#define PRECISION_BITS (32 - 8 - 2)   /* Pillow's fixed-point precision for 8-bit images */

static inline double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static inline uint8_t clip8(int v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

/* Coefficients for output positions out0 ..< out0+count of an inSize -> outSize resize, exactly as
   Pillow's precompute_coeffs + normalize_coeffs_8bpc compute them for the full output. */
static int coeffs(int inSize, int outSize, int out0, int count, int **boundsp, int32_t **kkp) {
    double scale = (double)((float)inSize - 0.0f) / outSize;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc(sizeof(int) * 2 * (size_t)count);
    int32_t *kk = malloc(sizeof(int32_t) * (size_t)ksize * count);
    double *k = malloc(sizeof(double) * (size_t)ksize);
    if (!bounds || !kk || !k) { free(bounds); free(kk); free(k); return 0; }
    for (int i = 0; i < count; i++) {
        int xx = out0 + i;
        double center = (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > inSize) xmax = inSize;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            double w = bicubic((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++) if (ww != 0.0) k[x] /= ww;
        for (int x = xmax; x < ksize; x++) k[x] = 0;
        int32_t *ki = kk + (size_t)i * ksize;
        for (int x = 0; x < ksize; x++)
            ki[x] = k[x] < 0 ? (int32_t)(-0.5 + k[x] * (1 << PRECISION_BITS))
                             : (int32_t)(0.5 + k[x] * (1 << PRECISION_BITS));
        bounds[2 * i] = xmin;
        bounds[2 * i + 1] = xmax;
    }
    free(k);
    *boundsp = bounds;
    *kkp = kk;
    return ksize;
}

/* Horizontal pass, scalar: one output pixel = sum over its taps, 3 channels, 22-bit fixed point. */
static inline uint8_t *hpixel_scalar(const uint8_t *s, const int32_t *k, int n, uint8_t *o) {
    int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
    for (int x = 0; x < n; x++) {
        int32_t kv = k[x];
        s0 += s[3 * x + 0] * kv;
        s1 += s[3 * x + 1] * kv;
        s2 += s[3 * x + 2] * kv;
    }
    o[0] = clip8(s0);
    o[1] = clip8(s1);
    o[2] = clip8(s2);
    return o + 3;
}

static void hpass_scalar(const uint8_t *src, size_t sstride, int sw, int row_first, int trows, uint8_t *tmp,
                         size_t tstride, int ncols, const int *hb, const int32_t *hk, int hks) {
    (void)sw;
    for (int y = 0; y < trows; y++) {
        const uint8_t *srow = src + (size_t)(row_first + y) * sstride;
        uint8_t *o = tmp + (size_t)y * tstride;
        for (int xx = 0; xx < ncols; xx++)
            o = hpixel_scalar(srow + (size_t)hb[2 * xx] * 3, hk + (size_t)xx * hks, hb[2 * xx + 1], o);
    }
}

#ifdef VDB_X86
/* AVX2: each source row is first widened to int32 RGBX (one 16-byte group per pixel); taps are then
   processed two at a time with coefficients pre-broadcast as (k[x] x4, k[x+1] x4). Integer sums are
   exact, so the result is bit-identical to the scalar version. */
__attribute__((target("avx2"))) static int hpass_avx2(const uint8_t *src, size_t sstride, int sw, int row_first,
                                                       int trows, uint8_t *tmp, size_t tstride, int ncols,
                                                       const int *hb, const int32_t *hk, int hks) {
    int pairs = (hks + 1) / 2;
    int32_t *kk = aligned_alloc(32, (size_t)ncols * pairs * 32 + 32);
    int32_t *wide = aligned_alloc(32, ((size_t)sw + 2) * 16 + 32);
    if (!kk || !wide) { free(kk); free(wide); return 0; }
    for (int xx = 0; xx < ncols; xx++) {
        const int32_t *k = hk + (size_t)xx * hks;
        int n = hb[2 * xx + 1];
        for (int p = 0; p < pairs; p++) {
            int32_t a = 2 * p < n ? k[2 * p] : 0, b = 2 * p + 1 < n ? k[2 * p + 1] : 0;
            int32_t *d = kk + ((size_t)xx * pairs + p) * 8;
            d[0] = d[1] = d[2] = d[3] = a;
            d[4] = d[5] = d[6] = d[7] = b;
        }
    }
    memset(wide + (size_t)sw * 4, 0, 32);   /* a zero pixel after the row for odd tap counts */
    int used0 = hb[0], used1 = 0;
    for (int xx = 0; xx < ncols; xx++) {
        if (hb[2 * xx] < used0) used0 = hb[2 * xx];
        if (hb[2 * xx] + hb[2 * xx + 1] > used1) used1 = hb[2 * xx] + hb[2 * xx + 1];
    }
    const __m128i rgbx = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    const __m128i half = _mm_set1_epi32(1 << (PRECISION_BITS - 1));
    for (int y = 0; y < trows; y++) {
        const uint8_t *srow = src + (size_t)(row_first + y) * sstride;
        /* widen only the source columns some output pixel reads: [used0, used1) */
        int x = used0;
        for (; x + 6 <= used1; x += 4) {    /* 16-byte load covers 4 pixels + 4 spare bytes in the row */
            __m128i v = _mm_loadu_si128((const __m128i *)(srow + 3 * x));
            v = _mm_shuffle_epi8(v, rgbx);
            _mm256_storeu_si256((__m256i *)(wide + 4 * x), _mm256_cvtepu8_epi32(v));
            _mm256_storeu_si256((__m256i *)(wide + 4 * x + 8), _mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
        }
        for (; x < used1; x++) {
            wide[4 * x + 0] = srow[3 * x + 0];
            wide[4 * x + 1] = srow[3 * x + 1];
            wide[4 * x + 2] = srow[3 * x + 2];
            wide[4 * x + 3] = 0;
        }
        uint8_t *o = tmp + (size_t)y * tstride;
        for (int xx = 0; xx < ncols; xx++) {
            int xmin = hb[2 * xx], n = hb[2 * xx + 1];
            const int32_t *kv = kk + (size_t)xx * pairs * 8;
            const int32_t *w = wide + (size_t)xmin * 4;
            __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
            int np = (n + 1) / 2, p = 0;
            for (; p + 2 <= np; p += 2) {
                acc0 = _mm256_add_epi32(acc0, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(w + 8 * p)),
                                                                 _mm256_load_si256((const __m256i *)(kv + 8 * p))));
                acc1 = _mm256_add_epi32(acc1, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(w + 8 * p + 8)),
                                                                 _mm256_load_si256((const __m256i *)(kv + 8 * p + 8))));
            }
            if (p < np)
                acc0 = _mm256_add_epi32(acc0, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(w + 8 * p)),
                                                                 _mm256_load_si256((const __m256i *)(kv + 8 * p))));
            acc0 = _mm256_add_epi32(acc0, acc1);
            __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc0), _mm256_extracti128_si256(acc0, 1));
            sum = _mm_srai_epi32(_mm_add_epi32(sum, half), PRECISION_BITS);
            /* clip to 0..255 and store 3 bytes */
            sum = _mm_packs_epi32(sum, sum);
            sum = _mm_packus_epi16(sum, sum);
            uint32_t px = (uint32_t)_mm_cvtsi128_si32(sum);
            if (xx + 1 < ncols) {
                memcpy(o, &px, 4);              /* 4th byte is overwritten by the next pixel */
            } else {
                o[0] = (uint8_t)px;
                o[1] = (uint8_t)(px >> 8);
                o[2] = (uint8_t)(px >> 16);
            }
            o += 3;
        }
    }
    free(kk);
    free(wide);
    return 1;
}
#endif

static void hpass(const uint8_t *src, size_t sstride, int sw, int row_first, int trows, uint8_t *tmp,
                  size_t tstride, int ncols, const int *hb, const int32_t *hk, int hks, int simd) {
#ifdef VDB_X86
    if (simd && hpass_avx2(src, sstride, sw, row_first, trows, tmp, tstride, ncols, hb, hk, hks)) return;
#endif
    hpass_scalar(src, sstride, sw, row_first, trows, tmp, tstride, ncols, hb, hk, hks);
}

/* Vertical pass for one output row: acc[i] += t[i] * k over the taps (vectorized by the compiler). */
static inline __attribute__((always_inline)) void vrow_generic(const uint8_t *tbase, size_t tstride, int ymin,
                                                               int n, const int32_t *k, int32_t *acc,
                                                               size_t rowlen, uint8_t *orow) {
    for (size_t i = 0; i < rowlen; i++) acc[i] = 1 << (PRECISION_BITS - 1);
    for (int y = 0; y < n; y++) {
        const uint8_t *t = tbase + (size_t)(ymin + y) * tstride;
        int32_t kv = k[y];
        for (size_t i = 0; i < rowlen; i++) acc[i] += t[i] * kv;
    }
    for (size_t i = 0; i < rowlen; i++) orow[i] = clip8(acc[i]);
}

static void vrow_default(const uint8_t *tbase, size_t tstride, int ymin, int n, const int32_t *k, int32_t *acc,
                         size_t rowlen, uint8_t *orow) {
    vrow_generic(tbase, tstride, ymin, n, k, acc, rowlen, orow);
}

#ifdef VDB_X86
__attribute__((target("avx2"))) static void vrow_avx2(const uint8_t *tbase, size_t tstride, int ymin, int n,
                                                       const int32_t *k, int32_t *acc, size_t rowlen,
                                                       uint8_t *orow) {
    vrow_generic(tbase, tstride, ymin, n, k, acc, rowlen, orow);
}
#endif

int vdb_resize_crop_rgb8(const uint8_t *src, int sw, int sh, size_t sstride, int dw, int dh,
                         int cx, int cy, int cw, int ch, uint8_t *out) {
    return vdb_resize_crop_rgb8_ex(src, sw, sh, sstride, dw, dh, cx, cy, cw, ch, out, 1);
}

int vdb_resize_crop_rgb8_ex(const uint8_t *src, int sw, int sh, size_t sstride, int dw, int dh,
                            int cx, int cy, int cw, int ch, uint8_t *out, int allow_simd) {
    int avx2 = 0;
#ifdef VDB_X86
    avx2 = allow_simd && __builtin_cpu_supports("avx2");
#else
    (void)allow_simd;
#endif
    if (!src || !out || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || cw <= 0 || ch <= 0 ||
        sstride < (size_t)sw * 3)
        return VDB_ERR_ARGUMENT;
    memset(out, 0, (size_t)cw * ch * 3);
    int x0 = cx < 0 ? 0 : cx, x1 = cx + cw > dw ? dw : cx + cw;
    int y0 = cy < 0 ? 0 : cy, y1 = cy + ch > dh ? dh : cy + ch;
    if (x0 >= x1 || y0 >= y1) return VDB_OK;
    int ncols = x1 - x0, nrows = y1 - y0;
    int need_h = dw != sw, need_v = dh != sh;

    int *hb = NULL, *vb = NULL;
    int32_t *hk = NULL, *vk = NULL;
    int hks = 0, vks = 0;
    int status = VDB_OK;
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;

    int row_first, row_last;  /* source rows the vertical pass reads */
    if (need_v) {
        vks = coeffs(sh, dh, y0, nrows, &vb, &vk);
        if (!vks) { status = VDB_ERR_NO_MEMORY; goto done; }
        row_first = vb[0];
        row_last = vb[2 * (nrows - 1)] + vb[2 * (nrows - 1) + 1];
    } else {
        row_first = y0;
        row_last = y1;
    }
    int trows = row_last - row_first;

    /* Horizontal pass into tmp (trows x ncols), or a view into src when width is unchanged. */
    const uint8_t *tbase;
    size_t tstride;
    if (need_h) {
        hks = coeffs(sw, dw, x0, ncols, &hb, &hk);
        if (!hks) { status = VDB_ERR_NO_MEMORY; goto done; }
        tstride = (size_t)ncols * 3;
        tmp = malloc(tstride * trows);
        if (!tmp) { status = VDB_ERR_NO_MEMORY; goto done; }
        hpass(src, sstride, sw, row_first, trows, tmp, tstride, ncols, hb, hk, hks, avx2);
        tbase = tmp;
    } else {
        tbase = src + (size_t)row_first * sstride + (size_t)x0 * 3;
        tstride = sstride;
    }

    /* Vertical pass (or a copy) into the output window. */
    size_t rowlen = (size_t)ncols * 3;
    if (need_v) {
        acc = malloc(sizeof(int32_t) * rowlen);
        if (!acc) { status = VDB_ERR_NO_MEMORY; goto done; }
    }
    for (int yy = 0; yy < nrows; yy++) {
        uint8_t *orow = out + ((size_t)(y0 + yy - cy) * cw + (size_t)(x0 - cx)) * 3;
        if (!need_v) {
            memcpy(orow, tbase + (size_t)(y0 + yy - row_first) * tstride, rowlen);
            continue;
        }
        int ymin = vb[2 * yy] - row_first, ymax = vb[2 * yy + 1];
        const int32_t *k = vk + (size_t)yy * vks;
#ifdef VDB_X86
        if (avx2) {
            vrow_avx2(tbase, tstride, ymin, ymax, k, acc, rowlen, orow);
            continue;
        }
#endif
        vrow_default(tbase, tstride, ymin, ymax, k, acc, rowlen, orow);
    }

done:
    free(hb); free(hk); free(vb); free(vk); free(tmp); free(acc);
    return status;
}

void vdb_rgb8_to_chw(const uint8_t *rgb, int w, int h, int do_rescale, double rescale,
                     int do_normalize, const float mean[3], const float std_[3], float *out) {
    size_t plane = (size_t)w * h;
    /* Hugging Face: float64 product cast to float32, then float32 (v - mean) / std. */
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = do_rescale ? (float)(v * rescale) : (float)v;
    for (int c = 0; c < 3; c++) {
        float *o = out + plane * c;
        const uint8_t *s = rgb + c;
        if (do_normalize) {
            float m = mean[c], sd = std_[c];
            float lutc[256];
            for (int v = 0; v < 256; v++) lutc[v] = (lut[v] - m) / sd;
            for (size_t i = 0; i < plane; i++) o[i] = lutc[s[3 * i]];
        } else {
            for (size_t i = 0; i < plane; i++) o[i] = lut[s[3 * i]];
        }
    }
}
