/* Pillow-compatible antialiased bicubic resampling, evaluated only inside a crop window and fed one
   source row at a time (so decoders can stream rows into it), and conversion to normalized
   channels-first floats. */
#include "internal.h"
#include <math.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include "vdb_isa.h"
#if defined(__x86_64__)
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
/* `row` holds source columns [xoff, ...): pixel x is at row + 3 * (x - xoff). */
static void hrow_scalar(const vdb_resizer *r, const uint8_t *row, int xoff, uint8_t *o) {
    for (int xx = 0; xx < r->ncols; xx++) {
        const uint8_t *s = row + (size_t)(r->hb[2 * xx] - xoff) * 3;
        const int32_t *k = r->hk + (size_t)xx * r->hks;
        int n = r->hb[2 * xx + 1];
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
        o += 3;
    }
}

#ifdef VDB_X86
/* AVX2: the used part of the source row is widened to int32 RGBX (16 bytes per pixel); taps are
   processed two at a time with coefficients pre-broadcast as (k[x] x4, k[x+1] x4). Integer sums are
   exact, so the result is bit-identical to the scalar version. */
__attribute__((target("avx2"))) static void hrow_avx2(const vdb_resizer *r, const uint8_t *row, int xoff,
                                                       uint8_t *o) {
    int32_t *wide = r->wide;
    int x = r->used0, used1 = r->used1;
    const uint8_t *srow = row - (ptrdiff_t)xoff * 3;   /* only dereferenced at columns >= used0 >= xoff */
    const __m128i rgbx = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    for (; x + 6 <= used1; x += 4) {      /* 16-byte load: 4 pixels + 4 spare bytes, inside the row */
        __m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(srow + 3 * x)), rgbx);
        _mm256_storeu_si256((__m256i *)(wide + 4 * x), _mm256_cvtepu8_epi32(v));
        _mm256_storeu_si256((__m256i *)(wide + 4 * x + 8), _mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
    }
    for (; x < used1; x++) {
        wide[4 * x + 0] = srow[3 * x + 0];
        wide[4 * x + 1] = srow[3 * x + 1];
        wide[4 * x + 2] = srow[3 * x + 2];
        wide[4 * x + 3] = 0;
    }
    const __m128i half = _mm_set1_epi32(1 << (PRECISION_BITS - 1));
    int pairs = r->pairs, ncols = r->ncols;
    for (int xx = 0; xx < ncols; xx++) {
        int xmin = r->hb[2 * xx], n = r->hb[2 * xx + 1];
        const int32_t *kv = r->kpairs + (size_t)xx * pairs * 8;
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
        sum = _mm_packus_epi16(_mm_packs_epi32(sum, sum), sum);   /* clip to 0..255 */
        uint32_t px = (uint32_t)_mm_cvtsi128_si32(sum);
        if (xx + 1 < ncols) {
            memcpy(o, &px, 4);                /* the 4th byte is overwritten by the next pixel */
        } else {
            o[0] = (uint8_t)px;
            o[1] = (uint8_t)(px >> 8);
            o[2] = (uint8_t)(px >> 16);
        }
        o += 3;
    }
}
#endif

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

void vdb_resizer_free(vdb_resizer *r) {
    if (!r) return;
    free(r->hb); free(r->hk); free(r->vb); free(r->vk); free(r->tmp); free(r->kpairs); free(r->wide);
    free(r->fliprow);
    memset(r, 0, sizeof(*r));
}

int vdb_resizer_init(vdb_resizer *r, int sw, int sh, int dw, int dh, int cx, int cy, int cw, int ch,
                     int flip_h, int flip_v, int allow_simd) {
    memset(r, 0, sizeof(*r));
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || cw <= 0 || ch <= 0) return VDB_ERR_ARGUMENT;
    r->sw = sw; r->sh = sh; r->cx = cx; r->cy = cy; r->cw = cw; r->ch = ch;
    r->flip_h = flip_h; r->flip_v = flip_v;
#ifdef VDB_X86
    /* The one CPU dispatch of CVDBKernels (honours VDB_FORCE_ISA). */
    r->simd = allow_simd && vdb_isa_active() >= VDB_ISA_AVX2;
#else
    (void)allow_simd;
#endif
    r->x0 = cx < 0 ? 0 : cx;
    r->x1 = cx + cw > dw ? dw : cx + cw;
    r->y0 = cy < 0 ? 0 : cy;
    r->y1 = cy + ch > dh ? dh : cy + ch;
    if (r->x0 >= r->x1 || r->y0 >= r->y1) { r->empty = 1; return VDB_OK; }
    r->ncols = r->x1 - r->x0;
    r->nrows = r->y1 - r->y0;
    r->need_h = dw != sw;
    r->need_v = dh != sh;
    if (r->need_v) {
        r->vks = coeffs(sh, dh, r->y0, r->nrows, &r->vb, &r->vk);
        if (!r->vks) goto oom;
        r->row_first = r->vb[0];
        r->row_last = r->vb[2 * (r->nrows - 1)] + r->vb[2 * (r->nrows - 1) + 1];
    } else {
        r->row_first = r->y0;
        r->row_last = r->y1;
    }
    if (r->need_h) {
        r->hks = coeffs(sw, dw, r->x0, r->ncols, &r->hb, &r->hk);
        if (!r->hks) goto oom;
        r->used0 = r->hb[0];
        r->used1 = 0;
        for (int xx = 0; xx < r->ncols; xx++) {
            if (r->hb[2 * xx] < r->used0) r->used0 = r->hb[2 * xx];
            if (r->hb[2 * xx] + r->hb[2 * xx + 1] > r->used1) r->used1 = r->hb[2 * xx] + r->hb[2 * xx + 1];
        }
        if (r->simd) {
            r->pairs = (r->hks + 1) / 2;
            r->kpairs = aligned_alloc(32, (size_t)r->ncols * r->pairs * 32 + 32);
            r->wide = calloc((size_t)sw + 2, 16);    /* + a zero pixel after the row for odd tap counts */
            if (!r->kpairs || !r->wide) goto oom;
            for (int xx = 0; xx < r->ncols; xx++) {
                const int32_t *k = r->hk + (size_t)xx * r->hks;
                int n = r->hb[2 * xx + 1];
                for (int p = 0; p < r->pairs; p++) {
                    int32_t a = 2 * p < n ? k[2 * p] : 0, b = 2 * p + 1 < n ? k[2 * p + 1] : 0;
                    int32_t *d = r->kpairs + ((size_t)xx * r->pairs + p) * 8;
                    d[0] = d[1] = d[2] = d[3] = a;
                    d[4] = d[5] = d[6] = d[7] = b;
                }
            }
            r->bytes += (size_t)r->ncols * r->pairs * 32 + ((size_t)sw + 2) * 16;
        }
    }
    r->tstride = (size_t)r->ncols * 3;
    size_t trows = (size_t)(r->row_last - r->row_first);
    r->tmp = malloc(r->tstride * trows);
    if (!r->tmp) goto oom;
    if (flip_h) {
        r->fliprow = malloc((size_t)sw * 3 + 16);
        if (!r->fliprow) goto oom;
    }
    r->bytes += r->tstride * trows + (flip_h ? (size_t)sw * 3 : 0) +
                (size_t)(r->hks * r->ncols + r->vks * r->nrows) * 4;
    return VDB_OK;
oom:
    vdb_resizer_free(r);
    return VDB_ERR_NO_MEMORY;
}

/* Is stored row `sy` needed? Returns the row index in the oriented image, or -1. */
int vdb_resizer_wants(const vdb_resizer *r, int sy) {
    if (r->empty) return -1;
    int y = r->flip_v ? r->sh - 1 - sy : sy;
    return (y >= r->row_first && y < r->row_last) ? y : -1;
}

void vdb_resizer_columns(const vdb_resizer *r, int *c0, int *c1) {
    if (r->empty) { *c0 = 0; *c1 = 0; return; }
    if (r->flip_h) { *c0 = 0; *c1 = r->sw; return; }
    if (r->need_h) { *c0 = r->used0; *c1 = r->used1; return; }
    *c0 = r->x0;
    *c1 = r->x1;
}

void vdb_resizer_row(vdb_resizer *r, int sy, const uint8_t *row) {
    vdb_resizer_row_part(r, sy, row, 0);
}

void vdb_resizer_row_part(vdb_resizer *r, int sy, const uint8_t *row, int xoff) {
    int y = vdb_resizer_wants(r, sy);
    if (y < 0) return;
    if (r->flip_h) {  /* needs whole rows (xoff == 0) */
        int w = r->sw;
        for (int x = 0; x < w; x++) {
            const uint8_t *s = row + (size_t)(w - 1 - x) * 3;
            r->fliprow[3 * x + 0] = s[0];
            r->fliprow[3 * x + 1] = s[1];
            r->fliprow[3 * x + 2] = s[2];
        }
        row = r->fliprow;
    }
    uint8_t *t = r->tmp + (size_t)(y - r->row_first) * r->tstride;
    if (!r->need_h) {
        memcpy(t, row + (size_t)(r->x0 - xoff) * 3, r->tstride);
        return;
    }
#ifdef VDB_X86
    if (r->simd) { hrow_avx2(r, row, xoff, t); return; }
#endif
    hrow_scalar(r, row, xoff, t);
}

int vdb_resizer_finish(vdb_resizer *r, uint8_t *out) {
    memset(out, 0, (size_t)r->cw * r->ch * 3);
    if (r->empty) return VDB_OK;
    size_t rowlen = (size_t)r->ncols * 3;
    int32_t *acc = NULL;
    if (r->need_v) {
        acc = malloc(sizeof(int32_t) * rowlen);
        if (!acc) return VDB_ERR_NO_MEMORY;
    }
    for (int yy = 0; yy < r->nrows; yy++) {
        uint8_t *orow = out + ((size_t)(r->y0 + yy - r->cy) * r->cw + (size_t)(r->x0 - r->cx)) * 3;
        if (!r->need_v) {
            memcpy(orow, r->tmp + (size_t)(r->y0 + yy - r->row_first) * r->tstride, rowlen);
            continue;
        }
        int ymin = r->vb[2 * yy] - r->row_first, n = r->vb[2 * yy + 1];
        const int32_t *k = r->vk + (size_t)yy * r->vks;
#ifdef VDB_X86
        if (r->simd) {
            vrow_avx2(r->tmp, r->tstride, ymin, n, k, acc, rowlen, orow);
            continue;
        }
#endif
        vrow_default(r->tmp, r->tstride, ymin, n, k, acc, rowlen, orow);
    }
    free(acc);
    return VDB_OK;
}

int vdb_resize_crop_rgb8(const uint8_t *src, int sw, int sh, size_t sstride, int dw, int dh,
                         int cx, int cy, int cw, int ch, uint8_t *out) {
    return vdb_resize_crop_rgb8_ex(src, sw, sh, sstride, dw, dh, cx, cy, cw, ch, out, 1);
}

int vdb_resize_crop_rgb8_ex(const uint8_t *src, int sw, int sh, size_t sstride, int dw, int dh,
                            int cx, int cy, int cw, int ch, uint8_t *out, int allow_simd) {
    if (!src || !out || sstride < (size_t)sw * 3) return VDB_ERR_ARGUMENT;
    vdb_resizer r;
    int rc = vdb_resizer_init(&r, sw, sh, dw, dh, cx, cy, cw, ch, 0, 0, allow_simd);
    if (rc != VDB_OK) return rc;
    if (!r.empty)
        for (int y = r.row_first; y < r.row_last; y++) vdb_resizer_row(&r, y, src + (size_t)y * sstride);
    rc = vdb_resizer_finish(&r, out);
    vdb_resizer_free(&r);
    return rc;
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
