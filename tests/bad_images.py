"""A corpus of hostile and unlucky image files, generated (nothing binary is checked in).

Every item says what a careful entry point must make of it:

- ``usable``: a real image a scanner or phone produces (CMYK, 16-bit, EXIF-rotated, palette,
  transparent); accepted wherever its format is.
- ``unreadable``: damaged or not an image at all (truncated, fuzzed, mutated, text, SVG, a
  TIFF whose StripOffsets tag is text, which made Pillow raise ``TypeError``); a 422 or a failed item.
- ``too_large``: a decompression bomb, tiny on disk and 30000×30000 or more when decoded; a 413,
  or a failed item.

Fuzzed and mutated files come from a seeded generator, so a failure names a file that can be
made again: ``corpus()`` gives the same bytes on every run.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass
from typing import Literal

from PIL import Image

Expect = Literal["usable", "unreadable", "too_large", "any"]


@dataclass(frozen=True, slots=True)
class BadImage:
    name: str  # a file name with the extension the format would have
    data: bytes
    expect: Expect  # "any": a mutation may or may not still decode; only "never a 5xx" is asserted
    format: str  # JPEG, PNG, TIFF, WEBP, GIF, PDF, or OTHER


def _picture(mode: str = "RGB", size: tuple[int, int] = (48, 32)) -> Image.Image:
    rng = random.Random(7)
    image = Image.new("RGB", size, (240, 235, 220))
    for _ in range(60):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        image.putpixel((x, y), (rng.randrange(80), rng.randrange(80), rng.randrange(80)))
    return image if mode == "RGB" else image.convert(mode)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _exif_rotated() -> Image.Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    exif[0x010F] = "a phone"
    return exif


def seeds() -> dict[str, tuple[str, bytes]]:
    """One good file per format, richer than the minimum (EXIF, DPI, compression) so mutations reach more code."""
    picture = _picture()
    return {
        "JPEG": (".jpg", encode(picture, "JPEG", exif=_exif_rotated(), quality=90)),
        "PNG": (".png", encode(picture, "PNG", dpi=(300, 300))),
        "TIFF": (".tif", encode(picture, "TIFF", dpi=(300, 300), compression="tiff_lzw")),
        "WEBP": (".webp", encode(picture, "WEBP", exif=_exif_rotated())),
        "GIF": (".gif", encode(picture.convert("P"), "GIF")),
        "PDF": (".pdf", encode(picture, "PDF", resolution=72)),
    }


def usable() -> list[BadImage]:
    picture = _picture()
    deep = Image.new("I;16", (40, 30))
    deep.putdata([(i * 613) % 65536 for i in range(40 * 30)])
    transparent = _picture("RGBA")
    transparent.putalpha(0)
    return [
        BadImage("cmyk.jpg", encode(picture.convert("CMYK"), "JPEG"), "usable", "JPEG"),
        BadImage("cmyk.tif", encode(picture.convert("CMYK"), "TIFF"), "usable", "TIFF"),
        BadImage("deep16.png", encode(deep, "PNG"), "usable", "PNG"),
        BadImage("deep16.tif", encode(deep, "TIFF"), "usable", "TIFF"),
        BadImage("rotated.jpg", encode(picture, "JPEG", exif=_exif_rotated()), "usable", "JPEG"),
        BadImage("transparent.png", encode(transparent, "PNG"), "usable", "PNG"),
        BadImage("palette.png", encode(picture.convert("P"), "PNG"), "usable", "PNG"),
        BadImage("grey.webp", encode(picture.convert("L"), "WEBP"), "usable", "WEBP"),
    ]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG that declares ``width``×``height`` greyscale pixels in a few hundred bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)  # a few rows; the rest never come
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def _with_tiff_dimensions(data: bytes, width: int, height: int) -> bytes:
    """A little-endian TIFF with its first directory's ImageWidth and ImageLength changed."""
    out = bytearray(data)
    offset = struct.unpack("<I", out[4:8])[0]
    (count,) = struct.unpack("<H", out[offset : offset + 2])
    for entry in range(count):
        at = offset + 2 + 12 * entry
        tag, kind = struct.unpack("<HH", out[at : at + 4])
        if tag in (256, 257):
            value = width if tag == 256 else height
            out[at + 2 : at + 12] = struct.pack("<HII", 4, 1, value)  # LONG, one value
        del kind
    return bytes(out)


def tiff_with_text_strip_offsets() -> bytes:
    """The fuzzed TIFF of issue 11: StripOffsets (tag 273) typed ASCII; Pillow raised TypeError on it."""
    out = bytearray(encode(_picture(), "TIFF", dpi=(300, 300)))
    offset = struct.unpack("<I", out[4:8])[0]
    (count,) = struct.unpack("<H", out[offset : offset + 2])
    for entry in range(count):
        at = offset + 2 + 12 * entry
        if struct.unpack("<H", out[at : at + 2])[0] == 273:
            out[at + 2 : at + 4] = struct.pack("<H", 2)
    return bytes(out)


def _jpeg_with_dimensions(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    at = out.find(b"\xff\xc0")
    out[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def bombs() -> list[BadImage]:
    tiff = encode(_picture(), "TIFF")
    gif = bytearray(encode(_picture().convert("P"), "GIF"))
    gif[6:10] = struct.pack("<HH", 65_535, 65_535)  # the logical screen
    at = gif.find(b"\x2c")  # the first image descriptor
    gif[at + 5 : at + 9] = struct.pack("<HH", 65_535, 65_535)
    return [
        BadImage("bomb.png", png_bomb(), "too_large", "PNG"),
        BadImage("bomb.tif", _with_tiff_dimensions(tiff, 30_000, 30_000), "too_large", "TIFF"),
        BadImage("bomb.jpg", _jpeg_with_dimensions(encode(_picture(), "JPEG"), 30_000, 30_000), "too_large", "JPEG"),
        BadImage("bomb.gif", bytes(gif), "too_large", "GIF"),
    ]


def junk() -> list[BadImage]:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    return [
        BadImage("drawing.svg", svg, "unreadable", "OTHER"),
        BadImage("notes.png", "не картинка, а текст\n".encode() * 20, "unreadable", "OTHER"),
        BadImage("zeros.jpg", b"\x00" * 4096, "unreadable", "OTHER"),
        BadImage("strip-offsets.tif", tiff_with_text_strip_offsets(), "unreadable", "TIFF"),
        BadImage("header-only.png", b"\x89PNG\r\n\x1a\n", "unreadable", "PNG"),
        BadImage("header-only.pdf", b"%PDF-1.7\n", "unreadable", "PDF"),
    ]


def truncated() -> list[BadImage]:
    items = []
    for fmt, (extension, data) in seeds().items():
        for keep in (0.5, 0.9):
            cut = data[: int(len(data) * keep)]
            items.append(BadImage(f"truncated-{int(keep * 100)}{extension}", cut, "unreadable", fmt))
    return items


def mutated(per_format: int = 6, seed: int = 11) -> list[BadImage]:
    """Seeded byte flips, insertions and deletions of each seed file: may still decode, or not."""
    rng = random.Random(seed)
    items = []
    for fmt, (extension, data) in seeds().items():
        for number in range(per_format):
            out = bytearray(data)
            for _ in range(rng.randint(1, 10)):
                at = rng.randrange(16, len(out))  # past the signature, so the format is still recognised
                action = rng.random()
                if action < 0.6:
                    out[at] = rng.choice((0, 255, rng.randrange(256)))
                elif action < 0.8:
                    out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
                else:
                    del out[at : at + rng.randint(1, 8)]
            items.append(BadImage(f"mutated-{number}{extension}", bytes(out), "any", fmt))
    return items


def corpus() -> list[BadImage]:
    """Everything above, in a fixed order."""
    return [*usable(), *bombs(), *junk(), *truncated(), *mutated()]
