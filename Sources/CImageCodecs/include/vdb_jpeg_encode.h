#ifndef VDB_JPEG_ENCODE_H
#define VDB_JPEG_ENCODE_H
/*
 * JPEG encoding of 8-bit RGB pixels through libjpeg(-turbo), for thumbnails (vdb serve).
 * No global state; safe to call from several threads at once. libjpeg errors are caught with
 * setjmp inside the function and returned as a status (VDB_* codes from vdb_codecs.h).
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Encodes width*height RGB8 pixels (row-major, interleaved, stride width*3) as a baseline JPEG.
 *   quality: 1...100 (libjpeg's scale).
 *   out/out_size: receive a malloc'ed buffer holding the file; free it with vdb_jpeg_free.
 * Returns VDB_OK, VDB_ERR_ARGUMENT, VDB_ERR_NO_MEMORY or VDB_ERR_CORRUPT (message in msg).
 */
int vdb_encode_jpeg_rgb8(const uint8_t *pixels, int width, int height, int quality,
                         uint8_t **out, size_t *out_size, char *msg, size_t msg_len);

/* Frees a buffer returned by vdb_encode_jpeg_rgb8. */
void vdb_jpeg_free(uint8_t *buffer);

#ifdef __cplusplus
}
#endif
#endif
