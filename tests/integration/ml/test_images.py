"""Card decoding: every awkward input gives a correct RGB image or a clear error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.infrastructure.ml.images import PillowCardImageLoader, decode_card

LIMIT = 50_000_000


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_rgb_channel_order_is_kept() -> None:
    red = Image.new("RGB", (8, 8), (255, 0, 0))
    for fmt in ("PNG", "TIFF", "WEBP"):
        decoded = decode_card(encode(red, fmt, **({"lossless": True} if fmt == "WEBP" else {})), max_pixels=LIMIT)
        assert decoded.mode == "RGB"
        assert decoded.getpixel((4, 4)) == (255, 0, 0), fmt


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"this is a text file, not a scan", "not a recognised image format"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "not a recognised image format"),
    ],
)
def test_non_images_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableImageError, match=reason):
        decode_card(data, max_pixels=LIMIT)


def test_truncated_jpeg_is_refused() -> None:
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8))
    data = encode(noisy, "JPEG", quality=90)
    with pytest.raises(UnreadableImageError, match="corrupt or truncated"):
        decode_card(data[: len(data) // 2], max_pixels=LIMIT)


def test_one_pixel_image_decodes() -> None:
    tiny = decode_card(encode(Image.new("L", (1, 1), 0), "PNG"), max_pixels=LIMIT)
    assert (tiny.size, tiny.mode) == ((1, 1), "RGB")


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    ramp = np.array([[0, 32896, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    decoded = decode_card(data, max_pixels=LIMIT)
    assert [decoded.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk_red = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    decoded = decode_card(encode(cmyk_red, "JPEG", quality=95), max_pixels=LIMIT)
    r, g, b = decoded.getpixel((8, 8))  # type: ignore[misc]
    assert decoded.mode == "RGB"
    assert r > 200
    assert max(g, b) < 60


def test_exif_orientation_is_applied() -> None:
    # Stored landscape, left half black; orientation 6 means "rotate 90° clockwise to view".
    stored = Image.new("RGB", (40, 20), (255, 255, 255))
    stored.paste((0, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_card(encode(stored, "JPEG", exif=exif.tobytes(), quality=95), max_pixels=LIMIT)
    assert decoded.size == (20, 40)
    assert sum(decoded.getpixel((10, 5))) < 100  # the black half is now on top  # type: ignore[arg-type]
    assert sum(decoded.getpixel((10, 35))) > 600  # type: ignore[arg-type]


def test_transparency_is_flattened_onto_white() -> None:
    clear = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    clear.putpixel((5, 5), (0, 0, 0, 255))
    decoded = decode_card(encode(clear, "PNG"), max_pixels=LIMIT)
    assert decoded.getpixel((0, 0)) == (255, 255, 255)
    assert decoded.getpixel((5, 5)) == (0, 0, 0)
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.info["transparency"] = 0
    assert decode_card(encode(palette, "PNG", transparency=0), max_pixels=LIMIT).getpixel((1, 1)) == (255, 255, 255)


def test_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(UnreadableImageError, match="more than the 100 allowed"):
        decode_card(encode(Image.new("RGB", (20, 20)), "PNG"), max_pixels=100)


def test_decoding_survives_ultralytics_patching_image_open() -> None:
    import ultralytics.utils.patches  # noqa: F401  (replaces PIL.Image.open on import)

    with pytest.raises(UnreadableImageError, match="not a recognised image format"):
        decode_card(b"GIF89 but not really", max_pixels=LIMIT)


async def test_loader_decodes_off_the_event_loop() -> None:
    loader = PillowCardImageLoader(max_pixels=LIMIT)
    image = await loader.load(encode(Image.new("RGB", (5, 3), (1, 2, 3)), "PNG"))
    assert image.size == (5, 3)
