/* Pillow-compatible antialiased bicubic resampling, evaluated only inside a crop window, and
   conversion to normalized channels-first floats. */
#include "internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int vdb_resize_crop_rgb8(const uint8_t *src, int sw, int sh, size_t sstride, int dw, int dh,
                         int cx, int cy, int cw, int ch, uint8_t *out) {
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
        for (int y = 0; y < trows; y++) {
            const uint8_t *srow = src + (size_t)(row_first + y) * sstride;
            uint8_t *trow = tmp + (size_t)y * tstride;
            for (int xx = 0; xx < ncols; xx++) {
                int xmin = hb[2 * xx], xmax = hb[2 * xx + 1];
                const int32_t *k = hk + (size_t)xx * hks;
                const uint8_t *s = srow + (size_t)xmin * 3;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++) {
                    int32_t kv = k[x];
                    s0 += s[3 * x + 0] * kv;
                    s1 += s[3 * x + 1] * kv;
                    s2 += s[3 * x + 2] * kv;
                }
                trow[3 * xx + 0] = clip8(s0);
                trow[3 * xx + 1] = clip8(s1);
                trow[3 * xx + 2] = clip8(s2);
            }
        }
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
        for (size_t i = 0; i < rowlen; i++) acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < ymax; y++) {
            const uint8_t *t = tbase + (size_t)(ymin + y) * tstride;
            int32_t kv = k[y];
            for (size_t i = 0; i < rowlen; i++) acc[i] += t[i] * kv;
        }
        for (size_t i = 0; i < rowlen; i++) orow[i] = clip8(acc[i]);
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
