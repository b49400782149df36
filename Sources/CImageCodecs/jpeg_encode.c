/* JPEG encoding through libjpeg(-turbo), with setjmp/longjmp error recovery (thumbnails). */
#include "vdb_codecs.h"
#include "vdb_jpeg_encode.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    /* libjpeg's memory destination writes the buffer here; kept in this struct (in memory, not in
       registers) so that it can be freed after a longjmp. */
    unsigned char *mem;
    unsigned long mem_size;
} encode_err;

static void encode_error_exit(j_common_ptr cinfo) {
    encode_err *e = (encode_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void encode_silent(j_common_ptr cinfo, int level) { (void)cinfo; (void)level; }

int vdb_encode_jpeg_rgb8(const uint8_t *pixels, int width, int height, int quality,
                         uint8_t **out, size_t *out_size, char *msg, size_t msg_len) {
    if (!pixels || !out || !out_size || width <= 0 || height <= 0 || width > 65500 || height > 65500 ||
        quality < 1 || quality > 100) {
        if (msg && msg_len) snprintf(msg, msg_len, "invalid JPEG encode arguments (%dx%d, quality %d)", width, height, quality);
        return VDB_ERR_ARGUMENT;
    }
    *out = NULL;
    *out_size = 0;
    struct jpeg_compress_struct cinfo;
    encode_err err;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = encode_error_exit;
    err.pub.emit_message = encode_silent;
    err.message[0] = 0;
    err.mem = NULL;
    err.mem_size = 0;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(err.mem);
        if (msg && msg_len) snprintf(msg, msg_len, "%s", err.message);
        return VDB_ERR_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &err.mem, &err.mem_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    const size_t stride = (size_t)width * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (!err.mem) {
        if (msg && msg_len) snprintf(msg, msg_len, "out of memory");
        return VDB_ERR_NO_MEMORY;
    }
    *out = err.mem;
    *out_size = (size_t)err.mem_size;
    return VDB_OK;
}

void vdb_jpeg_free(uint8_t *buffer) { free(buffer); }
