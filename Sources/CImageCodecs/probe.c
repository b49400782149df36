/* Header probing (format, dimensions, EXIF orientation) without decoding pixels. */
#include "internal.h"
#include <string.h>
#include <stdlib.h>

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

int vdb_sniff_format(const uint8_t *data, size_t size) {
    if (!data) return VDB_FORMAT_UNKNOWN;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return VDB_FORMAT_JPEG;
    if (size >= 8 && memcmp(data, png_sig, 8) == 0) return VDB_FORMAT_PNG;
    return VDB_FORMAT_UNKNOWN;
}

static uint32_t rd16(const uint8_t *p, int le) { return le ? (uint32_t)(p[0] | (p[1] << 8)) : (uint32_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24))
              : (((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
}

/* vdb_exif_orientation_tiff: in exif.c. */

static int probe_jpeg(const uint8_t *d, size_t n, vdb_image_info *info) {
    size_t p = 2;
    int found_sof = 0;
    info->orientation = 1;
    while (p + 4 <= n) {
        if (d[p] != 0xFF) { p++; continue; }     /* tolerate garbage between segments */
        while (p < n && d[p] == 0xFF) p++;        /* fill bytes */
        if (p >= n) break;
        uint8_t m = d[p++];
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue; /* no length */
        if (m == 0xD9) break;                      /* EOI */
        if (p + 2 > n) break;
        size_t len = rd16(d + p, 0);
        if (len < 2) return VDB_ERR_CORRUPT;
        const uint8_t *seg = d + p + 2;
        size_t seglen = len - 2;
        int complete = p + len <= n;
        if (m == 0xE1 && complete && seglen >= 14 && memcmp(seg, "Exif\0\0", 6) == 0 && info->orientation == 1) {
            info->orientation = vdb_exif_orientation_tiff(seg + 6, seglen - 6);
        } else if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (p + 2 + 6 > n) return VDB_ERR_TRUNCATED;
            info->bit_depth = seg[0];
            info->height = (int)rd16(seg + 1, 0);
            info->width = (int)rd16(seg + 3, 0);
            info->components = seg[5];
            info->is_cmyk = seg[5] == 4;
            info->progressive = (m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE);
            found_sof = 1;
        } else if (m == 0xDA) {
            break;                                 /* start of scan: headers are over */
        }
        p += len;
    }
    if (!found_sof) return VDB_ERR_TRUNCATED;
    if (info->width <= 0 || info->height <= 0) return VDB_ERR_CORRUPT;
    return VDB_OK;
}

static int probe_png(const uint8_t *d, size_t n, vdb_image_info *info) {
    info->orientation = 1;
    if (n < 8 + 8 + 13) return VDB_ERR_TRUNCATED;
    if (memcmp(d + 12, "IHDR", 4) != 0) return VDB_ERR_CORRUPT;
    info->width = (int)rd32(d + 16, 0);
    info->height = (int)rd32(d + 20, 0);
    info->bit_depth = d[24];
    int ct = d[25];
    info->progressive = d[28] == 1;
    switch (ct) {
    case 0: info->components = 1; break;
    case 2: info->components = 3; break;
    case 3: info->components = 3; break;
    case 4: info->components = 2; info->has_alpha = 1; break;
    case 6: info->components = 4; info->has_alpha = 1; break;
    default: return VDB_ERR_CORRUPT;
    }
    if (info->width <= 0 || info->height <= 0) return VDB_ERR_CORRUPT;
    /* Walk chunk headers for tRNS and eXIf (cheap: lengths only, no data read). */
    size_t p = 8;
    while (p + 12 <= n) {
        uint32_t len = rd32(d + p, 0);
        const uint8_t *type = d + p + 4;
        if ((size_t)len > n - p - 12) break;
        if (memcmp(type, "tRNS", 4) == 0 && ct != 2) info->has_alpha = 1;
        else if (memcmp(type, "eXIf", 4) == 0) {
            const uint8_t *x = d + p + 8;
            size_t xl = len;
            if (xl >= 6 && memcmp(x, "Exif\0\0", 6) == 0) { x += 6; xl -= 6; }
            info->orientation = vdb_exif_orientation_tiff(x, xl);
        } else if (memcmp(type, "IEND", 4) == 0) break;
        p += (size_t)len + 12;
    }
    return VDB_OK;
}

int vdb_probe(const uint8_t *data, size_t size, vdb_image_info *info) {
    if (!info) return VDB_ERR_ARGUMENT;
    memset(info, 0, sizeof(*info));
    info->orientation = 1;
    if (!data || size == 0) return VDB_ERR_EMPTY;
    info->format = vdb_sniff_format(data, size);
    switch (info->format) {
    case VDB_FORMAT_JPEG: return probe_jpeg(data, size, info);
    case VDB_FORMAT_PNG: return probe_png(data, size, info);
    default: return VDB_ERR_UNKNOWN_FORMAT;
    }
}

uint8_t *vdb_orient_rgb8(const uint8_t *src, int w, int h, int o, int *ow, int *oh) {
    int swap = o >= 5;
    int nw = swap ? h : w, nh = swap ? w : h;
    uint8_t *dst = malloc((size_t)w * h * 3);
    if (!dst) return NULL;
    for (int y = 0; y < nh; y++) {
        uint8_t *drow = dst + (size_t)y * nw * 3;
        for (int x = 0; x < nw; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;                   /* transpose */
            case 6: sx = y; sy = h - 1 - x; break;           /* rotate 90 clockwise */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;   /* transverse */
            case 8: sx = w - 1 - y; sy = x; break;           /* rotate 90 counter-clockwise */
            default: sx = x; sy = y; break;
            }
            const uint8_t *s = src + ((size_t)sy * w + sx) * 3;
            drow[x * 3 + 0] = s[0];
            drow[x * 3 + 1] = s[1];
            drow[x * 3 + 2] = s[2];
        }
    }
    *ow = nw;
    *oh = nh;
    return dst;
}

const char *vdb_format_bytes(double bytes, char *buf, size_t len) {
    if (bytes >= 1024.0 * 1024 * 1024) snprintf(buf, len, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024) snprintf(buf, len, "%.1f MiB", bytes / (1024.0 * 1024));
    else snprintf(buf, len, "%.0f bytes", bytes);
    return buf;
}

int vdb_decode(const uint8_t *data, size_t size, int min_short_side, int apply_orientation,
               size_t max_bytes, vdb_decoded *out, char *msg, size_t msg_len) {
    if (!out) return VDB_ERR_ARGUMENT;
    if (max_bytes == 0) max_bytes = VDB_DEFAULT_MAX_DECODE_BYTES;
    memset(out, 0, sizeof(*out));
    if (msg && msg_len) msg[0] = 0;
    if (!data || size == 0) {
        vdb_set_msg(msg, msg_len, "empty input (0 bytes)");
        return VDB_ERR_EMPTY;
    }
    vdb_image_info info;
    int rc = vdb_probe(data, size, &info);
    if (rc == VDB_ERR_UNKNOWN_FORMAT) {
        vdb_set_msg(msg, msg_len, "not a JPEG or PNG (first bytes %02x %02x %02x %02x)",
                    data[0], size > 1 ? data[1] : 0, size > 2 ? data[2] : 0, size > 3 ? data[3] : 0);
        return rc;
    }
    /* Rotating for EXIF orientation copies the pixels: 3 more bytes per pixel held at once. */
    size_t extra = apply_orientation && info.orientation > 1 ? 3 : 0;
    if (info.format == VDB_FORMAT_JPEG) rc = vdb_decode_jpeg(data, size, min_short_side, max_bytes, extra, out, NULL, msg, msg_len);
    else rc = vdb_decode_png(data, size, max_bytes, extra, out, NULL, msg, msg_len);
    if (rc != VDB_OK) return rc;
    out->format = info.format;
    out->orientation = info.orientation;
    if (apply_orientation && info.orientation > 1) {
        int nw, nh;
        uint8_t *r = vdb_orient_rgb8(out->pixels, out->width, out->height, info.orientation, &nw, &nh);
        if (!r) {
            vdb_decoded_free(out);
            vdb_set_msg(msg, msg_len, "out of memory applying EXIF orientation");
            return VDB_ERR_NO_MEMORY;
        }
        size_t bytes = (size_t)nw * nh * 3;
        if (out->peak_bytes < 2 * bytes) out->peak_bytes = 2 * bytes;
        free(out->pixels);
        out->pixels = r;
        out->width = nw;
        out->height = nh;
        out->orientation_applied = 1;
    }
    return VDB_OK;
}

void vdb_decoded_free(vdb_decoded *img) {
    if (!img) return;
    free(img->pixels);
    img->pixels = NULL;
}
