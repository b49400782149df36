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

int vdb_decode_jpeg(const uint8_t *data, size_t size, int min_short_side, vdb_decoded *out,
                    char *msg, size_t msg_len);
int vdb_decode_png(const uint8_t *data, size_t size, vdb_decoded *out, char *msg, size_t msg_len);
#endif
