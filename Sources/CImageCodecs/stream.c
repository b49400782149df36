/* Decode + resize + centre crop in one pass: decoded rows stream into the resampler, so no full-size
   image buffer exists (except for EXIF orientations 5-8, which transpose, and interlaced PNGs). */
#include "internal.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    vdb_resizer r;
    int ready;
    int dw, dh, cx, cy, cw, ch, flip_h, flip_v;
} stream_ctx;

static int on_start(void *ctx, int w, int h) {
    stream_ctx *s = ctx;
    int rc = vdb_resizer_init(&s->r, w, h, s->dw, s->dh, s->cx, s->cy, s->cw, s->ch, s->flip_h, s->flip_v, 1);
    s->ready = rc == VDB_OK;
    return rc;
}

static void on_row(void *ctx, int y, const uint8_t *rgb, int xoff) {
    stream_ctx *s = ctx;
    vdb_resizer_row_part(&s->r, y, rgb, xoff);
}

static void on_columns(void *ctx, int *c0, int *c1) {
    stream_ctx *s = ctx;
    vdb_resizer_columns(&s->r, c0, c1);
}

int vdb_decode_resize_crop(const uint8_t *data, size_t size, int min_short_side, int apply_orientation,
                           size_t max_bytes, int dst_w, int dst_h, int crop_x, int crop_y, int crop_w, int crop_h,
                           uint8_t *out, vdb_decoded *info, char *msg, size_t msg_len) {
    if (!out || !info || dst_w <= 0 || dst_h <= 0 || crop_w <= 0 || crop_h <= 0) return VDB_ERR_ARGUMENT;
    if (max_bytes == 0) max_bytes = VDB_DEFAULT_MAX_DECODE_BYTES;
    memset(info, 0, sizeof(*info));
    if (msg && msg_len) msg[0] = 0;
    vdb_image_info hdr;
    int rc = vdb_probe(data, size, &hdr);
    if (rc == VDB_ERR_EMPTY || rc == VDB_ERR_UNKNOWN_FORMAT || hdr.format == VDB_FORMAT_UNKNOWN ||
        (apply_orientation && hdr.orientation >= 5) || (hdr.format == VDB_FORMAT_PNG && hdr.progressive)) {
        /* Buffered path: decode (and orient) fully, then resample. */
        rc = vdb_decode(data, size, min_short_side, apply_orientation, max_bytes, info, msg, msg_len);
        if (rc != VDB_OK) return rc;
        vdb_resizer r;
        rc = vdb_resizer_init(&r, info->width, info->height, dst_w, dst_h, crop_x, crop_y, crop_w, crop_h, 0, 0, 1);
        if (rc == VDB_OK) {
            if (!r.empty)
                for (int y = r.row_first; y < r.row_last; y++)
                    vdb_resizer_row(&r, y, info->pixels + (size_t)y * info->width * 3);
            rc = vdb_resizer_finish(&r, out);
            size_t img = (size_t)info->width * info->height * 3;
            if (info->peak_bytes < img + r.bytes) info->peak_bytes = img + r.bytes;
            vdb_resizer_free(&r);
        }
        vdb_decoded_free(info);
        if (rc != VDB_OK) vdb_set_msg(msg, msg_len, "out of memory while resizing");
        return rc;
    }
    int o = apply_orientation ? hdr.orientation : 1;
    stream_ctx s;
    memset(&s, 0, sizeof(s));
    s.dw = dst_w; s.dh = dst_h; s.cx = crop_x; s.cy = crop_y; s.cw = crop_w; s.ch = crop_h;
    s.flip_h = o == 2 || o == 3;
    s.flip_v = o == 3 || o == 4;
    vdb_row_sink sink = {on_start, on_row, on_columns, &s};
    if (hdr.format == VDB_FORMAT_JPEG) rc = vdb_decode_jpeg(data, size, min_short_side, max_bytes, 0, info, &sink, msg, msg_len);
    else rc = vdb_decode_png(data, size, max_bytes, 0, info, &sink, msg, msg_len);
    if (rc == VDB_OK) rc = vdb_resizer_finish(&s.r, out);
    if (rc == VDB_OK) {
        info->format = hdr.format;
        info->orientation = hdr.orientation;
        info->orientation_applied = o > 1;
        info->peak_bytes += s.r.bytes;
    }
    if (s.ready) vdb_resizer_free(&s.r);
    return rc;
}
