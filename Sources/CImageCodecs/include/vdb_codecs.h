#ifndef VDB_CODECS_H
#define VDB_CODECS_H
/*
 * JPEG/PNG decoding and PIL-compatible resampling for vdb's CLIP preprocessing.
 *
 * Everything here is plain C with no global state: every function is safe to call from
 * several threads at once on different inputs. libjpeg and libpng report errors through
 * setjmp/longjmp; that never crosses into Swift: each decoder catches its own errors and
 * returns a status code plus a message.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Container formats recognised by content (never by file name). */
enum {
    VDB_FORMAT_UNKNOWN = 0,
    VDB_FORMAT_JPEG = 1,
    VDB_FORMAT_PNG = 2,
};

/* Status codes returned by vdb_probe / vdb_decode. */
enum {
    VDB_OK = 0,
    VDB_ERR_EMPTY = 1,          /* zero bytes */
    VDB_ERR_UNKNOWN_FORMAT = 2, /* neither JPEG nor PNG signature */
    VDB_ERR_CORRUPT = 3,        /* decoder error; message says which */
    VDB_ERR_TRUNCATED = 4,      /* data ends before the image is complete */
    VDB_ERR_UNSUPPORTED = 5,    /* valid file, feature not supported (e.g. 12-bit JPEG) */
    VDB_ERR_TOO_LARGE = 6,      /* decoded pixel count above VDB_MAX_DECODED_PIXELS */
    VDB_ERR_NO_MEMORY = 7,
    VDB_ERR_ARGUMENT = 8,       /* invalid argument from the caller */
};

/* Largest decoded (after DCT scaling) image accepted: PIL's decompression-bomb error limit. What
   the decoder itself allocates for the declared size is bounded by the memory cap below. */
#define VDB_MAX_DECODED_PIXELS 178956970LL

/* Default per-decode memory cap (max_bytes = 0): the most bytes one decode may hold, counting the
   decoder's own buffers (libjpeg's whole-image coefficient arrays for progressive and multi-scan
   JPEGs, which are sized by the declared dimensions whatever the DCT scaling), the decoded pixels
   or rows, and the EXIF rotation copy. Checked from the headers before any of it is allocated,
   and given to libjpeg as max_memory_to_use. 256 MiB covers a progressive 4:2:0 JPEG of about
   89 megapixels, and baseline JPEGs and non-interlaced PNGs of any size (decoded streaming). */
#define VDB_DEFAULT_MAX_DECODE_BYTES ((size_t)256 << 20)

/* Header information, read without decoding pixel data. */
typedef struct {
    int format;       /* VDB_FORMAT_* */
    int width;        /* stored width in pixels (before EXIF orientation) */
    int height;       /* stored height in pixels (before EXIF orientation) */
    int orientation;  /* EXIF orientation 1...8 (1 when absent or invalid) */
    int components;   /* colour components stored: 1 gray, 2 gray+alpha, 3, 4 (RGBA or CMYK) */
    int bit_depth;    /* bits per sample (JPEG precision or PNG bit depth) */
    int has_alpha;    /* 1 if the image carries alpha (alpha channel or PNG tRNS) */
    int is_cmyk;      /* JPEG with 4 components (CMYK or YCCK) */
    int progressive;  /* JPEG progressive / PNG interlaced */
} vdb_image_info;

/* Identifies the format by signature and reads dimensions and orientation from the headers.
   Returns VDB_OK, VDB_ERR_EMPTY, VDB_ERR_UNKNOWN_FORMAT, or VDB_ERR_TRUNCATED/CORRUPT when the
   headers are incomplete. Never reads pixel data. */
int vdb_probe(const uint8_t *data, size_t size, vdb_image_info *info);

/* Fast signature check only: VDB_FORMAT_JPEG, VDB_FORMAT_PNG or VDB_FORMAT_UNKNOWN. */
int vdb_sniff_format(const uint8_t *data, size_t size);

/* EXIF metadata of a photo. Strings are NUL-terminated, trimmed, control characters replaced by
   spaces (not necessarily valid UTF-8); empty when absent. */
typedef struct {
    int has_exif;                  /* an EXIF block was found */
    int corrupt;                   /* the block is malformed: fields read before the problem are kept */
    int orientation;               /* 1...8 (1 when absent or invalid) */
    char datetime_original[32];    /* DateTimeOriginal as stored, "YYYY:MM:DD HH:MM:SS" */
    char offset_time_original[16]; /* OffsetTimeOriginal, e.g. "+02:00" */
    char datetime[32];             /* DateTime (last change) as stored */
    char make[64];
    char model[64];
    char lens_model[96];
    int has_gps;                   /* latitude and longitude are valid */
    double gps_latitude;           /* degrees, south negative */
    double gps_longitude;          /* degrees, west negative */
} vdb_exif;

/* Reads the EXIF block of a JPEG (first APP1 "Exif" segment) or PNG (eXIf chunk) held in memory,
   without decoding pixels. Returns 1 if a block was found (see out->corrupt), 0 if there is none
   (out is then empty, orientation 1). Never fails otherwise: bad offsets and counts stop parsing. */
int vdb_exif_read(const uint8_t *data, size_t size, vdb_exif *out);

/* The same for a TIFF structure (starting at the byte-order mark), e.g. an EXIF block found elsewhere. */
void vdb_exif_parse_tiff(const uint8_t *tiff, size_t size, vdb_exif *out);

/* A decoded 8-bit RGB image (alpha already composited on white, CMYK converted). */
typedef struct {
    uint8_t *pixels;     /* width*height*3 bytes, row-major RGB; free with vdb_decoded_free */
    int width;           /* after DCT scaling and orientation */
    int height;
    int source_width;    /* stored dimensions in the file */
    int source_height;
    int scale_denom;     /* JPEG DCT scaling used: 1 (full size), 2, 4 or 8 */
    int orientation;     /* EXIF orientation read from the file (1...8) */
    int orientation_applied; /* 1 if the pixels were transformed for it */
    int format;          /* VDB_FORMAT_* */
    size_t peak_bytes;   /* largest total size of pixel buffers held at once while decoding */
} vdb_decoded;

/*
 * Decodes a JPEG or PNG held in memory into 8-bit RGB.
 *   min_short_side: if > 0, a JPEG may be decoded with DCT scaling (1/2, 1/4, 1/8): the largest
 *                   reduction whose shorter side is still >= min_short_side is used. 0 = full size.
 *   apply_orientation: 1 to rotate/flip the pixels according to EXIF orientation.
 *   max_bytes: per-decode memory cap (0 = VDB_DEFAULT_MAX_DECODE_BYTES); an image that would need
 *              more is refused with VDB_ERR_TOO_LARGE before its buffers are allocated.
 *   msg/msg_len: receives a human-readable message on failure (may be NULL).
 * Truncated JPEGs ("Premature end of JPEG file") are errors (VDB_ERR_TRUNCATED), not gray padding.
 * On success out->pixels is owned by the caller (vdb_decoded_free).
 */
int vdb_decode(const uint8_t *data, size_t size, int min_short_side, int apply_orientation,
               size_t max_bytes, vdb_decoded *out, char *msg, size_t msg_len);

void vdb_decoded_free(vdb_decoded *img);

/*
 * PIL-compatible antialiased bicubic resize (a = -0.5) of an RGB8 image to dst_w x dst_h, of which
 * only the window [crop_x, crop_x+crop_w) x [crop_y, crop_y+crop_h) (in resized coordinates) is
 * computed and written to out (crop_w*crop_h*3 bytes, row-major RGB). Window pixels outside the
 * resized image are set to 0 (as Hugging Face's center_crop pads). Reproduces Pillow's
 * ImagingResample bit for bit: horizontal pass first, 22-bit fixed-point coefficients, 8-bit
 * rounding between passes, passes skipped when that dimension is unchanged.
 * Memory: one intermediate of (rows needed) x crop_w x 3 bytes; the full resized image is never built.
 * src_stride is the distance in bytes between source rows (>= src_w*3).
 * Returns VDB_OK, VDB_ERR_ARGUMENT or VDB_ERR_NO_MEMORY.
 */
int vdb_resize_crop_rgb8(const uint8_t *src, int src_w, int src_h, size_t src_stride,
                         int dst_w, int dst_h, int crop_x, int crop_y, int crop_w, int crop_h,
                         uint8_t *out);

/*
 * Decode + resize + crop in one pass (what CLIP preprocessing uses): JPEG/PNG rows stream into the
 * resampler, so no full-size decoded image is held (EXIF orientations 5-8 and interlaced PNGs use a
 * full buffer). Geometry as vdb_resize_crop_rgb8, with dst_w x dst_h the resized size of the image
 * *as displayed* (after orientation, at full resolution; DCT scaling is chosen from min_short_side as
 * in vdb_decode and does not change the output grid). out: crop_w*crop_h*3 bytes. info receives the
 * decode facts (pixels stays NULL; peak_bytes = decoder + resampler buffers).
 */
int vdb_decode_resize_crop(const uint8_t *data, size_t size, int min_short_side, int apply_orientation,
                           size_t max_bytes, int dst_w, int dst_h, int crop_x, int crop_y, int crop_w, int crop_h,
                           uint8_t *out, vdb_decoded *info, char *msg, size_t msg_len);

/* Same, with allow_simd = 0 forcing the portable scalar loops (for tests; results are identical). */
int vdb_resize_crop_rgb8_ex(const uint8_t *src, int src_w, int src_h, size_t src_stride,
                            int dst_w, int dst_h, int crop_x, int crop_y, int crop_w, int crop_h,
                            uint8_t *out, int allow_simd);

/*
 * RGB8 (row-major, interleaved) to channels-first float: v = p * rescale (if do_rescale),
 * then (v - mean[c]) / std[c] (if do_normalize). out has 3*w*h floats.
 */
void vdb_rgb8_to_chw(const uint8_t *rgb, int w, int h, int do_rescale, double rescale,
                     int do_normalize, const float mean[3], const float std_[3], float *out);

#ifdef __cplusplus
}
#endif
#endif
