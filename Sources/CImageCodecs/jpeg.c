/* JPEG decoding through libjpeg(-turbo) with setjmp/longjmp error recovery. */
#include "internal.h"
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <limits.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int status;                 /* VDB_ERR_* to report after longjmp */
    char message[JMSG_LENGTH_MAX];
} err_ctx;

typedef struct {
    uint8_t *pixels;            /* output RGB buffer (owned until handed to the caller) */
    uint8_t *row;               /* CMYK scanline buffer */
} buf_ctx;

static void on_error_exit(j_common_ptr cinfo) {
    err_ctx *e = (err_ctx *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    if (e->status == VDB_OK) {
        int code = cinfo->err->msg_code;
        e->status = (code == JERR_INPUT_EOF || code == JERR_INPUT_EMPTY) ? VDB_ERR_TRUNCATED
                  : (code == JERR_OUT_OF_MEMORY) ? VDB_ERR_NO_MEMORY
                  : (code == JERR_BAD_PRECISION || code == JERR_SOF_UNSUPPORTED || code == JERR_ARITH_NOTIMPL ||
                     code == JERR_NOT_COMPILED) ? VDB_ERR_UNSUPPORTED
                  : (code == JERR_IMAGE_TOO_BIG || code == JERR_WIDTH_OVERFLOW ||
                     code == JERR_NO_BACKING_STORE) ? VDB_ERR_TOO_LARGE
                  : VDB_ERR_CORRUPT;
    }
    longjmp(e->jump, 1);
}

/* Warnings: "Premature end of JPEG file" (the source ran out and libjpeg would pad the rest with
   gray) is fatal, as in Pillow (which raises "image file is truncated"). Other warnings (corrupt
   entropy data, extraneous bytes) are tolerated silently, as Pillow tolerates them. Nothing is
   ever printed. */
static void on_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0) {
        err_ctx *e = (err_ctx *)cinfo->err;
        cinfo->err->num_warnings++;
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            e->status = VDB_ERR_TRUNCATED;
            on_error_exit(cinfo);
        }
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Pillow's CMYK -> RGB (Convert.c cmyk2rgb): nk = 255-k; c' = clip(nk - c*nk/255). */
static inline uint8_t muldiv255(int a, int b) {
    int t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w, int inverted) {
    for (int x = 0; x < w; x++) {
        int c = in[0], m = in[1], y = in[2], k = in[3];
        if (inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        int nk = 255 - k;
        int r = nk - muldiv255(c, nk), g = nk - muldiv255(m, nk), b = nk - muldiv255(y, nk);
        out[0] = (uint8_t)(r < 0 ? 0 : r);
        out[1] = (uint8_t)(g < 0 ? 0 : g);
        out[2] = (uint8_t)(b < 0 ? 0 : b);
        in += 4;
        out += 3;
    }
}

/* Bytes of the whole-image coefficient arrays libjpeg allocates at jpeg_start_decompress for a
   progressive or multi-scan image (jdcoefct.c: one virtual array per component of its blocks,
   padded to whole MCUs, 64 16-bit coefficients each). Valid after jpeg_read_header. */
static double coefficient_bytes(j_decompress_ptr cinfo) {
    double total = 0;
    for (int ci = 0; ci < cinfo->num_components; ci++) {
        jpeg_component_info *c = &cinfo->comp_info[ci];
        double w = (double)((c->width_in_blocks + c->h_samp_factor - 1) / c->h_samp_factor * c->h_samp_factor);
        double h = (double)((c->height_in_blocks + c->v_samp_factor - 1) / c->v_samp_factor * c->v_samp_factor);
        total += w * h * DCTSIZE2 * sizeof(JCOEF);
    }
    return total;
}

int vdb_decode_jpeg(const uint8_t *data, size_t size, int min_short_side, size_t max_bytes, size_t extra_per_pixel,
                    vdb_decoded *out, const vdb_row_sink *sink, char *msg, size_t msg_len) {
    struct jpeg_decompress_struct cinfo;
    err_ctx err;
    buf_ctx *buf = calloc(1, sizeof(buf_ctx));
    if (!buf) return VDB_ERR_NO_MEMORY;
    memset(&err, 0, sizeof(err));
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    err.pub.emit_message = on_emit_message;
    err.pub.output_message = on_output_message;
    err.status = VDB_OK;

    if (setjmp(err.jump)) {
        int st = err.status == VDB_OK ? VDB_ERR_CORRUPT : err.status;
        vdb_set_msg(msg, msg_len, "%s", err.message);
        jpeg_destroy_decompress(&cinfo);
        free(buf->pixels);
        free(buf->row);
        free(buf);
        return st;
    }
    jpeg_create_decompress(&cinfo);
    /* libjpeg's own cap: virtual arrays beyond it would need a backing store, which this build
       lacks, so it errors instead of allocating (JERR_NO_BACKING_STORE). */
    cinfo.mem->max_memory_to_use = (long)(max_bytes > (size_t)LONG_MAX ? LONG_MAX : max_bytes);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    int cmyk = 0, inverted = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_RGB;  /* libjpeg-turbo replicates gray into R=G=B */
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK; /* YCCK is converted to CMYK by libjpeg */
        cmyk = 1;
        /* Adobe (Photoshop) CMYK JPEGs store inverted values; the APP14 Adobe marker says so. */
        inverted = cinfo.saw_Adobe_marker ? 1 : 0;
        break;
    default:
        cinfo.out_color_space = JCS_RGB;
        break;
    }
    cinfo.dct_method = JDCT_ISLOW;        /* Pillow's default: bit-identical full-size decode */
    cinfo.do_fancy_upsampling = TRUE;

    int denom = 1;
    if (min_short_side > 0) {
        int s = cinfo.image_width < cinfo.image_height ? (int)cinfo.image_width : (int)cinfo.image_height;
        for (int d = 8; d >= 2; d /= 2) {
            if ((s + d - 1) / d >= min_short_side) { denom = d; break; }
        }
    }
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned)denom;
    jpeg_calc_output_dimensions(&cinfo);
    long long pixels = (long long)cinfo.output_width * cinfo.output_height;
    if (pixels > VDB_MAX_DECODED_PIXELS) {
        vdb_set_msg(msg, msg_len, "JPEG too large: %ux%u decodes to %lld pixels (limit %lld)",
                    cinfo.image_width, cinfo.image_height, pixels, (long long)VDB_MAX_DECODED_PIXELS);
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return VDB_ERR_TOO_LARGE;
    }
    /* What this decode will hold: libjpeg's coefficient arrays (progressive / multi-scan: the
       full declared size, whatever the scaling), the output (one row when streaming, else the
       whole scaled image) plus what the caller adds per pixel, and a CMYK scanline. */
    double coef = (cinfo.progressive_mode || jpeg_has_multiple_scans(&cinfo)) ? coefficient_bytes(&cinfo) : 0;
    double opix = (double)cinfo.output_width * cinfo.output_height;
    double need = coef + (sink ? (double)cinfo.output_width * 7 : opix * (3 + (double)extra_per_pixel))
                + (double)cinfo.output_width * cinfo.output_components * 16;
    if (need > (double)max_bytes) {
        char a[32], b[32];
        vdb_set_msg(msg, msg_len, "%sJPEG of %ux%u needs %s to decode%s, above the %s per-image memory limit",
                    cinfo.progressive_mode ? "progressive " : "", cinfo.image_width, cinfo.image_height,
                    vdb_format_bytes(need, a, sizeof a), coef > 0 ? " (whole-image coefficient buffers)" : "",
                    vdb_format_bytes((double)max_bytes, b, sizeof b));
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return VDB_ERR_TOO_LARGE;
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    if (sink) {
        int st = sink->start(sink->ctx, w, h);
        if (st != VDB_OK) {
            err.status = st;
            strcpy(err.message, st == VDB_ERR_NO_MEMORY ? "out of memory for the resampler" : "resampler setup failed");
            longjmp(err.jump, 1);
        }
    }
    /* Streaming: decode only the columns the resampler reads (plus a 32-pixel margin on each side,
       so fancy upsampling at the crop edge cannot change them); libjpeg-turbo widens the window to
       iMCU boundaries and reports the actual offset. */
    int xoff = 0;
    if (sink && sink->columns) {
        int c0, c1;
        sink->columns(sink->ctx, &c0, &c1);
        c0 = c0 - 32 < 0 ? 0 : c0 - 32;
        c1 = c1 + 32 > w ? w : c1 + 32;
        if (c1 > c0 && (c0 > 0 || c1 < w)) {
            JDIMENSION xo = (JDIMENSION)c0, cw = (JDIMENSION)(c1 - c0);
            jpeg_crop_scanline(&cinfo, &xo, &cw);
            xoff = (int)xo;
        }
    }
    int ow = (int)cinfo.output_width;   /* == w unless cropped */
    size_t rgb_bytes = sink ? (size_t)ow * 3 : (size_t)w * h * 3;   /* one row when streaming */
    buf->pixels = malloc(rgb_bytes);
    if (!buf->pixels) {
        err.status = VDB_ERR_NO_MEMORY;
        strcpy(err.message, "out of memory for decoded pixels");
        longjmp(err.jump, 1);
    }
    if (cmyk) {
        buf->row = malloc((size_t)ow * 4);
        if (!buf->row) {
            err.status = VDB_ERR_NO_MEMORY;
            strcpy(err.message, "out of memory for a scanline");
            longjmp(err.jump, 1);
        }
    }
    while (sink && cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        if (cmyk) {
            JSAMPROW r = buf->row;
            jpeg_read_scanlines(&cinfo, &r, 1);
            cmyk_row_to_rgb(buf->row, buf->pixels, ow, inverted);
        } else {
            JSAMPROW r = buf->pixels;
            jpeg_read_scanlines(&cinfo, &r, 1);
        }
        sink->row(sink->ctx, y, buf->pixels, xoff);
    }
    while (!sink && cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = buf->pixels + (size_t)cinfo.output_scanline * w * 3;
        if (cmyk) {
            JSAMPROW r = buf->row;
            jpeg_read_scanlines(&cinfo, &r, 1);
            cmyk_row_to_rgb(buf->row, dst, w, inverted);
        } else {
            JSAMPROW rows[8];
            int n = 0;
            for (; n < 8 && cinfo.output_scanline + (unsigned)n < cinfo.output_height; n++)
                rows[n] = dst + (size_t)n * w * 3;
            jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)n);
        }
    }
    /* All scanlines are in: skip jpeg_finish_decompress (a file that only lacks its EOI marker
       is accepted, like every mainstream decoder does). */
    out->pixels = sink ? NULL : buf->pixels;
    if (sink) free(buf->pixels);
    out->width = w;
    out->height = h;
    out->source_width = (int)cinfo.image_width;
    out->source_height = (int)cinfo.image_height;
    out->scale_denom = denom;
    out->peak_bytes = rgb_bytes + (cmyk ? (size_t)ow * 4 : 0);
    jpeg_destroy_decompress(&cinfo);
    free(buf->row);
    free(buf);
    return VDB_OK;
}
