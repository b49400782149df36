#ifndef VDB_CODECS_INTERNAL_H
#define VDB_CODECS_INTERNAL_H
#include "vdb_codecs.h"
#include <stdarg.h>
#include <stdio.h>

/* Writes a formatted message into msg (if non-NULL). */
static inline void vdb_set_msg(char *msg, size_t len, const char *fmt, ...) {
    if (!msg || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

/* EXIF orientation from a TIFF structure (starting at the byte-order mark). 1 if absent. */
int vdb_exif_orientation_tiff(const uint8_t *tiff, size_t size);

/* Applies EXIF orientation to an RGB8 buffer; returns a new malloc'd buffer (or NULL). */
uint8_t *vdb_orient_rgb8(const uint8_t *src, int w, int h, int orientation, int *out_w, int *out_h);

/* Receives decoded RGB8 rows instead of a full image buffer. `start` is called once with the decoded
   size (after DCT scaling) before any row; a non-OK return aborts decoding with that status. */
typedef struct {
    int (*start)(void *ctx, int width, int height);
    /* Row y; `rgb` holds columns [xoff, ...) of it (xoff > 0 only after a `columns` request). */
    void (*row)(void *ctx, int y, const uint8_t *rgb, int xoff);
    /* Optional: columns [c0, c1) the sink needs, so a decoder may skip the others. */
    void (*columns)(void *ctx, int *c0, int *c1);
    void *ctx;
} vdb_row_sink;

/* With sink == NULL the decoders fill out->pixels; otherwise rows go to the sink and out->pixels
   stays NULL. PNG streams only non-interlaced images (returns VDB_ERR_UNSUPPORTED for interlaced ones
   when a sink is given, so the caller can fall back to the buffered path). */
/* max_bytes: the per-decode cap (already resolved: never 0); extra_bytes: what the caller will
   add on top of the decoded pixels (the EXIF rotation copy), counted against the cap. */
int vdb_decode_jpeg(const uint8_t *data, size_t size, int min_short_side, size_t max_bytes, size_t extra_per_pixel,
                    vdb_decoded *out, const vdb_row_sink *sink, char *msg, size_t msg_len);
int vdb_decode_png(const uint8_t *data, size_t size, size_t max_bytes, size_t extra_per_pixel, vdb_decoded *out,
                   const vdb_row_sink *sink, char *msg, size_t msg_len);

/* Formats a byte count as "12.3 MiB" into buf. */
const char *vdb_format_bytes(double bytes, char *buf, size_t len);

/* Streaming resampler: the state of one resize-and-crop (see vdb_resize_crop_rgb8), fed one source
   row at a time in any order; flips (EXIF orientations 2, 3, 4) are applied on the fly. */
typedef struct {
    int sw, sh, cx, cy, cw, ch;
    int flip_h, flip_v, simd, empty;
    int x0, x1, y0, y1, ncols, nrows, need_h, need_v;
    int row_first, row_last;      /* rows of the (oriented) source the vertical pass reads */
    int *hb, *vb;
    int32_t *hk, *vk;
    int hks, vks;
    int pairs, used0, used1;      /* AVX2 horizontal pass */
    int32_t *kpairs, *wide;
    uint8_t *tmp, *fliprow;
    size_t tstride;
    size_t bytes;                 /* heap bytes held */
} vdb_resizer;

int vdb_resizer_init(vdb_resizer *r, int sw, int sh, int dw, int dh, int cx, int cy, int cw, int ch,
                     int flip_h, int flip_v, int allow_simd);
int vdb_resizer_wants(const vdb_resizer *r, int stored_y);
void vdb_resizer_row(vdb_resizer *r, int stored_y, const uint8_t *row);
/* A row holding only source columns [xoff, ...) (must cover vdb_resizer_columns; xoff = 0 if flipped). */
void vdb_resizer_row_part(vdb_resizer *r, int stored_y, const uint8_t *row, int xoff);
/* Source columns [c0, c1) of stored rows that the resampler reads. */
void vdb_resizer_columns(const vdb_resizer *r, int *c0, int *c1);
int vdb_resizer_finish(vdb_resizer *r, uint8_t *out);
void vdb_resizer_free(vdb_resizer *r);
#endif
