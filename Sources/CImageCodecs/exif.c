/* EXIF metadata from a JPEG APP1 "Exif" segment or a PNG eXIf chunk: orientation, capture time,
   camera, lens and GPS position. Every offset and count is bounds-checked against the block; a
   malformed block yields what could be read before the problem and sets `corrupt`. */
#include "internal.h"
#include <string.h>

static uint32_t rd16(const uint8_t *p, int le) { return le ? (uint32_t)(p[0] | (p[1] << 8)) : (uint32_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24))
              : (((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
}

/* Bytes per component of a TIFF field type (0 for unknown types). */
static uint32_t type_size(uint32_t type) {
    switch (type) {
    case 1: case 2: case 6: case 7: return 1;   /* BYTE, ASCII, SBYTE, UNDEFINED */
    case 3: case 8: return 2;                   /* SHORT, SSHORT */
    case 4: case 9: case 11: return 4;          /* LONG, SLONG, FLOAT */
    case 5: case 10: case 12: return 8;         /* RATIONAL, SRATIONAL, DOUBLE */
    default: return 0;
    }
}

typedef struct {
    const uint8_t *t;
    size_t n;
    int le;
    vdb_exif *out;
} tiff;

/* The value bytes of an IFD entry (inline or at its offset), or NULL when they are out of bounds. */
static const uint8_t *entry_value(const tiff *x, const uint8_t *e, uint32_t *type, uint32_t *count) {
    *type = rd16(e + 2, x->le);
    *count = rd32(e + 4, x->le);
    uint32_t size = type_size(*type);
    if (size == 0 || *count == 0 || *count > (uint32_t)(x->n / size)) return NULL;
    uint64_t bytes = (uint64_t)size * *count;
    if (bytes <= 4) return e + 8;
    uint32_t off = rd32(e + 8, x->le);
    if ((uint64_t)off + bytes > x->n) return NULL;
    return x->t + off;
}

/* Copies an ASCII value: stops at NUL, replaces control characters, trims spaces. */
static void copy_ascii(char *dst, size_t cap, const uint8_t *v, uint32_t count) {
    size_t k = 0;
    for (uint32_t i = 0; i < count && k + 1 < cap; i++) {
        uint8_t c = v[i];
        if (c == 0) break;
        dst[k++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    while (k > 0 && dst[k - 1] == ' ') k--;
    size_t s = 0;
    while (s < k && dst[s] == ' ') s++;
    if (s > 0) memmove(dst, dst + s, k - s);
    dst[k - s] = 0;
}

/* Degrees from three RATIONALs (degrees, minutes, seconds); -1 if a denominator is 0. */
static double dms(const tiff *x, const uint8_t *v) {
    double out = 0, scale = 1;
    for (int i = 0; i < 3; i++) {
        uint32_t num = rd32(v + 8 * i, x->le), den = rd32(v + 8 * i + 4, x->le);
        if (den == 0) return -1;
        out += (double)num / (double)den / scale;
        scale *= 60;
    }
    return out;
}

enum { IFD0, IFD_EXIF, IFD_GPS };

/* Reads the entries of the IFD at `off` (of kind `kind`); returns the offsets of the Exif and
   GPS sub-IFDs found in IFD0 through `exif_off` / `gps_off` (0 when absent). */
static void read_ifd(tiff *x, uint32_t off, int kind, uint32_t *exif_off, uint32_t *gps_off) {
    if (off < 8 || off >= x->n || x->n - off < 2) { x->out->corrupt = 1; return; }
    uint32_t count = rd16(x->t + off, x->le);
    if ((uint64_t)off + 2 + (uint64_t)count * 12 > x->n) { x->out->corrupt = 1; count = (uint32_t)((x->n - off - 2) / 12); }
    char lat_ref = 0, lon_ref = 0;
    double lat = -1, lon = -1;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = x->t + off + 2 + 12 * i;
        uint32_t tag = rd16(e, x->le), type, n;
        const uint8_t *v = entry_value(x, e, &type, &n);
        if (!v) continue;
        vdb_exif *o = x->out;
        if (kind == IFD0) {
            switch (tag) {
            case 0x010F: if (type == 2) copy_ascii(o->make, sizeof o->make, v, n); break;
            case 0x0110: if (type == 2) copy_ascii(o->model, sizeof o->model, v, n); break;
            case 0x0132: if (type == 2) copy_ascii(o->datetime, sizeof o->datetime, v, n); break;
            case 0x0112: {
                uint32_t value = type == 3 ? rd16(v, x->le) : type == 4 ? rd32(v, x->le) : 0;
                if (value >= 1 && value <= 8) o->orientation = (int)value;
                break;
            }
            case 0x8769: if (type == 4 || type == 13) *exif_off = rd32(v, x->le); break;
            case 0x8825: if (type == 4 || type == 13) *gps_off = rd32(v, x->le); break;
            }
        } else if (kind == IFD_EXIF) {
            switch (tag) {
            case 0x9003: if (type == 2) copy_ascii(o->datetime_original, sizeof o->datetime_original, v, n); break;
            case 0x9011: if (type == 2) copy_ascii(o->offset_time_original, sizeof o->offset_time_original, v, n); break;
            case 0xA434: if (type == 2) copy_ascii(o->lens_model, sizeof o->lens_model, v, n); break;
            }
        } else {
            switch (tag) {
            case 0x0001: if (type == 2) lat_ref = (char)v[0]; break;
            case 0x0002: if (type == 5 && n == 3) lat = dms(x, v); break;
            case 0x0003: if (type == 2) lon_ref = (char)v[0]; break;
            case 0x0004: if (type == 5 && n == 3) lon = dms(x, v); break;
            }
        }
    }
    if (kind == IFD_GPS) {
        if ((lat_ref == 'N' || lat_ref == 'S') && (lon_ref == 'E' || lon_ref == 'W') &&
            lat >= 0 && lat <= 90 && lon >= 0 && lon <= 180) {
            x->out->has_gps = 1;
            x->out->gps_latitude = lat_ref == 'S' ? -lat : lat;
            x->out->gps_longitude = lon_ref == 'W' ? -lon : lon;
        } else if (lat_ref || lon_ref || lat != -1 || lon != -1) {
            x->out->corrupt = 1;   /* a GPS block without a usable position */
        }
    }
}

void vdb_exif_parse_tiff(const uint8_t *t, size_t n, vdb_exif *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    out->orientation = 1;
    out->has_exif = 1;
    if (!t || n < 8) { out->corrupt = 1; return; }
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else { out->corrupt = 1; return; }
    if (rd16(t + 2, le) != 42) { out->corrupt = 1; return; }
    tiff x = {t, n, le, out};
    uint32_t exif_off = 0, gps_off = 0, unused1 = 0, unused2 = 0;
    read_ifd(&x, rd32(t + 4, le), IFD0, &exif_off, &gps_off);
    if (exif_off) read_ifd(&x, exif_off, IFD_EXIF, &unused1, &unused2);
    if (gps_off) read_ifd(&x, gps_off, IFD_GPS, &unused1, &unused2);
}

int vdb_exif_orientation_tiff(const uint8_t *t, size_t n) {
    vdb_exif e;
    vdb_exif_parse_tiff(t, n, &e);
    return e.orientation;
}

/* The TIFF block of the first APP1 "Exif" segment of a JPEG (NULL if none). */
static const uint8_t *jpeg_exif(const uint8_t *d, size_t n, size_t *len) {
    size_t p = 2;
    while (p + 4 <= n) {
        if (d[p] != 0xFF) { p++; continue; }
        while (p < n && d[p] == 0xFF) p++;
        if (p >= n) break;
        uint8_t m = d[p++];
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;
        if (m == 0xD9 || m == 0xDA || p + 2 > n) break;
        size_t seg = rd16(d + p, 0);
        if (seg < 2) break;
        if (m == 0xE1 && seg >= 8 && p + 2 + 6 <= n && memcmp(d + p + 2, "Exif\0\0", 6) == 0) {
            size_t start = p + 8;
            size_t end = p + seg <= n ? p + seg : n;   /* a truncated segment: what is there */
            *len = end > start ? end - start : 0;
            return d + start;
        }
        p += seg;
    }
    return NULL;
}

/* The TIFF block of a PNG eXIf chunk (NULL if none). */
static const uint8_t *png_exif(const uint8_t *d, size_t n, size_t *len) {
    size_t p = 8;
    while (p + 12 <= n) {
        uint32_t clen = rd32(d + p, 0);
        const uint8_t *type = d + p + 4;
        if ((size_t)clen > n - p - 12) break;
        if (memcmp(type, "eXIf", 4) == 0) {
            const uint8_t *x = d + p + 8;
            size_t xl = clen;
            if (xl >= 6 && memcmp(x, "Exif\0\0", 6) == 0) { x += 6; xl -= 6; }
            *len = xl;
            return x;
        }
        if (memcmp(type, "IEND", 4) == 0) break;
        p += (size_t)clen + 12;
    }
    return NULL;
}

int vdb_exif_read(const uint8_t *data, size_t size, vdb_exif *out) {
    if (!out) return 0;
    memset(out, 0, sizeof *out);
    out->orientation = 1;
    if (!data) return 0;
    size_t len = 0;
    const uint8_t *t = NULL;
    switch (vdb_sniff_format(data, size)) {
    case VDB_FORMAT_JPEG: t = jpeg_exif(data, size, &len); break;
    case VDB_FORMAT_PNG: t = png_exif(data, size, &len); break;
    default: return 0;
    }
    if (!t) return 0;
    vdb_exif_parse_tiff(t, len, out);
    return 1;
}
