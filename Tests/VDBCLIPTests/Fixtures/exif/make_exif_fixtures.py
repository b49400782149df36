#!/usr/bin/env python3
"""Writes the EXIF fixture images of Tests/VDBCLIPTests (EXIFTests) into this folder.

The EXIF blocks are built here byte by byte (both byte orders, valid and broken ones) and put
into small JPEG / PNG images that Pillow encodes, so the tests know exactly what each holds:

  orientation6.jpg   II, orientation 6, DateTimeOriginal + OffsetTimeOriginal, Make/Model/Lens
  gps.jpg            MM (big-endian), GPS 48 51 29.6 N, 2 17 40.2 E, DateTimeOriginal
  gps_south_west.jpg II, GPS 22 57 6.84 S, 43 12 37.8 W, no date
  no_exif.jpg        no APP1 segment at all
  corrupt_exif.jpg   II, Make readable, then the Exif sub-IFD pointer points past the block
  garbage_exif.jpg   an APP1 "Exif" segment whose TIFF header is garbage
  exif.png           PNG with an eXIf chunk: orientation 3, DateTimeOriginal
  zero_date.jpg      DateTimeOriginal "0000:00:00 00:00:00" (cameras write this when unset)

Run with a Python that has Pillow (e.g. /work/venv-bench/bin/python):
  python3 Tests/VDBCLIPTests/Fixtures/exif/make_exif_fixtures.py
"""
import io
import os
import struct
import zlib

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))

ASCII, SHORT, LONG, RATIONAL = 2, 3, 4, 5


def ascii_value(s):
    return (ASCII, len(s) + 1, s.encode() + b"\0")


def short_value(v):
    return (SHORT, 1, v)


def rationals(values):
    return (RATIONAL, len(values), values)


def tiff(le, ifd0, exif=None, gps=None):
    """A TIFF block with IFD0 and optional Exif and GPS sub-IFDs: dicts tag -> (type, count, value)."""
    e = "<" if le else ">"
    ifds = [dict(ifd0)]
    if exif is not None:
        ifds[0][0x8769] = (LONG, 1, 0)
        ifds.append(dict(exif))
    if gps is not None:
        ifds[0][0x8825] = (LONG, 1, 0)
        ifds.append(dict(gps))

    def ifd_size(ifd):
        data = 0
        for typ, count, value in ifd.values():
            size = {ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8}[typ] * count
            if size > 4:
                data += size + (size & 1)
        return 2 + 12 * len(ifd) + 4 + data

    offsets, pos = [], 8
    for ifd in ifds:
        offsets.append(pos)
        pos += ifd_size(ifd)
    k = 1
    if exif is not None:
        ifds[0][0x8769] = (LONG, 1, offsets[k]); k += 1
    if gps is not None:
        ifds[0][0x8825] = (LONG, 1, offsets[k])

    out = (b"II" if le else b"MM") + struct.pack(e + "HI", 42, 8)
    for ifd, off in zip(ifds, offsets):
        entries, data = b"", b""
        data_pos = off + 2 + 12 * len(ifd) + 4
        for tag in sorted(ifd):
            typ, count, value = ifd[tag]
            if typ == ASCII:
                raw = value
            elif typ == SHORT:
                raw = struct.pack(e + "H", value)
            elif typ == LONG:
                raw = struct.pack(e + "I", value)
            else:
                raw = b"".join(struct.pack(e + "II", n, d) for n, d in value)
            if len(raw) <= 4:
                field = raw.ljust(4, b"\0")
            else:
                field = struct.pack(e + "I", data_pos + len(data))
                data += raw + (b"\0" if len(raw) & 1 else b"")
            entries += struct.pack(e + "HHI", tag, typ, count) + field
        out += struct.pack(e + "H", len(ifd)) + entries + struct.pack(e + "I", 0) + data
    return out


def jpeg(size, color, exif_tiff=None, raw_app1=None):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    payload = raw_app1 if raw_app1 is not None else (b"Exif\0\0" + exif_tiff if exif_tiff is not None else None)
    if payload is None:
        return data
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + app1 + data[2:]


def png_with_exif(size, color, exif_tiff):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    data = buf.getvalue()
    chunk = b"eXIf" + exif_tiff
    exif_chunk = struct.pack(">I", len(exif_tiff)) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4
    return data[:ihdr_end] + exif_chunk + data[ihdr_end:]


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    write("orientation6.jpg", jpeg((24, 16), (200, 30, 30), tiff(True,
        {0x010F: ascii_value("Google"), 0x0110: ascii_value("Pixel 8"), 0x0112: short_value(6),
         0x0132: ascii_value("2024:07:01 09:00:00")},
        exif={0x9003: ascii_value("2024:06:01 10:30:00"), 0x9011: ascii_value("+02:00"),
              0xA434: ascii_value("Pixel 8 back camera 6.9mm f/1.68")})))
    write("gps.jpg", jpeg((24, 16), (30, 200, 30), tiff(False,
        {0x010F: ascii_value("Canon"), 0x0110: ascii_value("Canon EOS R5")},
        exif={0x9003: ascii_value("2023:12:24 18:05:09")},
        gps={0x0001: ascii_value("N"), 0x0002: rationals([(48, 1), (51, 1), (296, 10)]),
             0x0003: ascii_value("E"), 0x0004: rationals([(2, 1), (17, 1), (402, 10)])})))
    write("gps_south_west.jpg", jpeg((24, 16), (30, 30, 200), tiff(True,
        {0x0110: ascii_value("DMC-FZ1000")},
        gps={0x0001: ascii_value("S"), 0x0002: rationals([(22, 1), (57, 1), (684, 100)]),
             0x0003: ascii_value("W"), 0x0004: rationals([(43, 1), (12, 1), (378, 10)])})))
    write("no_exif.jpg", jpeg((24, 16), (120, 120, 120)))
    good = tiff(True, {0x010F: ascii_value("Nikon"), 0x0112: short_value(8)},
                exif={0x9003: ascii_value("2022:01:02 03:04:05")})
    # Point the Exif sub-IFD (entry 0x8769, the last of IFD0) far past the end of the block.
    broken = bytearray(good)
    count = struct.unpack("<H", broken[8:10])[0]
    for i in range(count):
        e = 10 + 12 * i
        if struct.unpack("<H", broken[e:e + 2])[0] == 0x8769:
            broken[e + 8:e + 12] = struct.pack("<I", 0x7FFFFFF0)
    write("corrupt_exif.jpg", jpeg((24, 16), (90, 60, 30), bytes(broken)))
    write("garbage_exif.jpg", jpeg((24, 16), (60, 90, 30), raw_app1=b"Exif\0\0XX\x2a\x00garbage-garbage"))
    write("exif.png", png_with_exif((20, 12), (10, 20, 30), tiff(False,
        {0x0112: short_value(3)}, exif={0x9003: ascii_value("2021:05:06 07:08:09")})))
    write("zero_date.jpg", jpeg((24, 16), (10, 10, 10), tiff(True,
        {0x010F: ascii_value("SONY")}, exif={0x9003: ascii_value("0000:00:00 00:00:00")})))


if __name__ == "__main__":
    main()
