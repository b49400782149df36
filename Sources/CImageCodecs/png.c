/* PNG decoding through libpng's full API (setjmp/longjmp error recovery), matching Pillow:
   16-bit samples reduced to their high byte, palette and gray tRNS expanded to alpha (an RGB
   tRNS colour key is ignored, as Pillow's RGB images keep no alpha), no gamma correction, and
   alpha composited on white with Pillow's alpha_composite arithmetic. */
#include "internal.h"
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
    int status;
    char message[256];
    uint8_t *pixels;   /* RGB or RGBA rows */
    png_bytep *rows;
} png_ctx;

static void on_png_error(png_structp png, png_const_charp text) {
    png_ctx *c = (png_ctx *)png_get_error_ptr(png);
    if (c->status == VDB_OK) c->status = VDB_ERR_CORRUPT;
    snprintf(c->message, sizeof(c->message), "%s", text ? text : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void on_png_read(png_structp png, png_bytep out, size_t n) {
    png_ctx *c = (png_ctx *)png_get_io_ptr(png);
    if (c->size - c->pos < n) {
        c->status = VDB_ERR_TRUNCATED;
        png_error(png, "unexpected end of data");
    }
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

/* Pillow AlphaComposite.c (7-bit precision), destination opaque white. */
#define SHIFTFORDIV255(a) ((((a) >> 8) + (a)) >> 8)
static void composite_row(const uint8_t *in, uint8_t *o, size_t n) {
    for (size_t i = 0; i < n; i++, in += 4, o += 3) {
        uint32_t a = in[3];
        uint8_t r = in[0], g = in[1], b = in[2];
        if (a == 0) {
            o[0] = o[1] = o[2] = 255;
            continue;
        }
        uint32_t blend = 255 * (255 - a);
        uint32_t outa255 = a * 255 + blend;
        uint32_t coef1 = a * 255 * 255 * (1u << 7) / outa255;
        uint32_t coef2 = 255 * (1u << 7) - coef1;
        uint32_t tr = r * coef1 + 255 * coef2, tg = g * coef1 + 255 * coef2, tb = b * coef1 + 255 * coef2;
        o[0] = (uint8_t)(SHIFTFORDIV255(tr + (0x80u << 7)) >> 7);
        o[1] = (uint8_t)(SHIFTFORDIV255(tg + (0x80u << 7)) >> 7);
        o[2] = (uint8_t)(SHIFTFORDIV255(tb + (0x80u << 7)) >> 7);
    }
}

/* One RGBA row composited into RGB (may be in place: out <= in). */

int vdb_decode_png(const uint8_t *data, size_t size, size_t max_bytes, size_t extra_per_pixel, vdb_decoded *out,
                   const vdb_row_sink *sink, char *msg, size_t msg_len) {
    png_ctx *c = calloc(1, sizeof(png_ctx));
    if (!c) return VDB_ERR_NO_MEMORY;
    c->data = data;
    c->size = size;
    c->status = VDB_OK;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, on_png_error, on_png_warning);
    if (!png) { free(c); return VDB_ERR_NO_MEMORY; }
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); free(c); return VDB_ERR_NO_MEMORY; }

    if (setjmp(png_jmpbuf(png))) {
        int st = c->status == VDB_OK ? VDB_ERR_CORRUPT : c->status;
        vdb_set_msg(msg, msg_len, "%s", c->message);
        png_destroy_read_struct(&png, &info, NULL);
        free(c->pixels);
        free(c->rows);
        free(c);
        return st;
    }
    png_set_read_fn(png, c, on_png_read);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    /* Ancillary chunks (text, ICC profiles) are read into memory, compressed ones inflated:
       keep any one of them small. */
    png_set_chunk_malloc_max(png, 8 << 20);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), ct = png_get_color_type(png, info);
    if ((long long)w * h > VDB_MAX_DECODED_PIXELS) {
        c->status = VDB_ERR_TOO_LARGE;
        snprintf(c->message, sizeof(c->message), "%ux%u is %lld pixels (limit %lld)", (unsigned)w,
                 (unsigned)h, (long long)w * h, (long long)VDB_MAX_DECODED_PIXELS);
        png_longjmp(png, 1);
    }
    int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    if (depth == 16) png_set_strip_16(png);            /* high byte, as Pillow's ;16B unpackers */
    if (ct == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (has_trns) png_set_tRNS_to_alpha(png);
    }
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) {
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (ct == PNG_COLOR_TYPE_GRAY && has_trns) png_set_tRNS_to_alpha(png);
        png_set_gray_to_rgb(png);
    }
    if (depth < 8 && ct != PNG_COLOR_TYPE_GRAY) png_set_packing(png);
    int interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    if (sink && interlaced) {
        c->status = VDB_ERR_UNSUPPORTED;
        snprintf(c->message, sizeof(c->message), "interlaced PNG cannot be streamed");
        png_longjmp(png, 1);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((channels != 3 && channels != 4) || rowbytes != (size_t)w * channels) {
        c->status = VDB_ERR_UNSUPPORTED;
        snprintf(c->message, sizeof(c->message), "unsupported pixel layout (color type %d, depth %d)", ct, depth);
        png_longjmp(png, 1);
    }
    {
        /* One row when streaming; else the whole image, its row table and the caller's extra. */
        double need = sink ? (double)rowbytes * 2
                           : (double)rowbytes * h + (double)sizeof(png_bytep) * h + (double)w * h * (double)extra_per_pixel;
        if (need > (double)max_bytes) {
            char a[32], b[32];
            c->status = VDB_ERR_TOO_LARGE;
            snprintf(c->message, sizeof(c->message), "%sPNG of %ux%u needs %s to decode, above the %s per-image memory limit",
                     interlaced ? "interlaced " : "", (unsigned)w, (unsigned)h, vdb_format_bytes(need, a, sizeof a),
                     vdb_format_bytes((double)max_bytes, b, sizeof b));
            png_longjmp(png, 1);
        }
    }
    if (sink) {
        int st = sink->start(sink->ctx, (int)w, (int)h);
        if (st != VDB_OK) {
            c->status = st;
            snprintf(c->message, sizeof(c->message), "resampler setup failed");
            png_longjmp(png, 1);
        }
        c->pixels = malloc(rowbytes);
        if (!c->pixels) {
            c->status = VDB_ERR_NO_MEMORY;
            snprintf(c->message, sizeof(c->message), "out of memory for a row");
            png_longjmp(png, 1);
        }
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(png, c->pixels, NULL);
            if (channels == 4) composite_row(c->pixels, c->pixels, w);
            sink->row(sink->ctx, (int)y, c->pixels, 0);
        }
        out->pixels = NULL;
        out->width = (int)w;
        out->height = (int)h;
        out->source_width = (int)w;
        out->source_height = (int)h;
        out->scale_denom = 1;
        out->peak_bytes = rowbytes;
        png_destroy_read_struct(&png, &info, NULL);
        free(c->pixels);
        free(c);
        return VDB_OK;
    }
    c->pixels = malloc(rowbytes * h);
    c->rows = malloc(sizeof(png_bytep) * h);
    if (!c->pixels || !c->rows) {
        c->status = VDB_ERR_NO_MEMORY;
        snprintf(c->message, sizeof(c->message), "out of memory for %ux%u pixels", (unsigned)w, (unsigned)h);
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) c->rows[y] = c->pixels + (size_t)y * rowbytes;
    png_read_image(png, c->rows);
    /* Pixel data complete: skip png_read_end (trailing chunks do not matter). */
    if (channels == 4) composite_row(c->pixels, c->pixels, (size_t)w * h);  /* in place, RGBA -> RGB */
    out->pixels = c->pixels;
    if (channels == 4) {
        uint8_t *shrunk = realloc(c->pixels, (size_t)w * h * 3);
        if (shrunk) out->pixels = shrunk;
    }
    out->width = (int)w;
    out->height = (int)h;
    out->source_width = (int)w;
    out->source_height = (int)h;
    out->scale_denom = 1;
    out->peak_bytes = rowbytes * h + sizeof(png_bytep) * h;
    c->pixels = NULL;
    png_destroy_read_struct(&png, &info, NULL);
    free(c->rows);
    free(c);
    return VDB_OK;
}
