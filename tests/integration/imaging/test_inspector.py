"""PillowImageInspector on real files of every accepted and refused kind."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from kartoteka.application.shared.images import ImageTooLargeError, UnreadableImageError, UnsupportedImageError
from kartoteka.infrastructure.imaging.inspector import PillowImageInspector
from tests.bad_images import png_bomb, tiff_with_text_strip_offsets

inspector = PillowImageInspector()


def encode(fmt: str, size: tuple[int, int] = (30, 20), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("JPEG", "image/jpeg", ".jpg"),
        ("PNG", "image/png", ".png"),
        ("TIFF", "image/tiff", ".tif"),
        ("WEBP", "image/webp", ".webp"),
    ],
)
async def test_accepted_formats(fmt: str, content_type: str, extension: str) -> None:
    info = await inspector.inspect(encode(fmt), 10_000)
    assert (info.format, info.content_type, info.extension, info.width, info.height) == (
        fmt,
        content_type,
        extension,
        30,
        20,
    )


async def test_other_image_formats_are_unsupported() -> None:
    for fmt in ("GIF", "BMP"):
        with pytest.raises(UnsupportedImageError, match=f"{fmt} images are not accepted"):
            await inspector.inspect(encode(fmt, mode="P" if fmt == "GIF" else "RGB"), 10_000)


async def test_truncated_and_non_images_are_unreadable() -> None:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(buf, format="JPEG")
    with pytest.raises(UnreadableImageError, match="corrupt or truncated"):
        await inspector.inspect(buf.getvalue()[:2000], 10**6)
    with pytest.raises(UnreadableImageError, match="not a recognised image"):
        await inspector.inspect(b"%PDF-1.7 not an image", 10**6)


async def test_oversized_image_is_refused_as_too_large_without_decoding() -> None:
    with pytest.raises(ImageTooLargeError, match="300×300 pixels; at most 1000"):
        await inspector.inspect(encode("PNG", size=(300, 300)), max_pixels=1000)


async def test_whatever_a_decoder_raises_is_unreadable_and_a_bomb_is_too_large() -> None:
    # Pillow raised TypeError on this TIFF (issue 11); any failure of decoding is the bytes' fault.
    with pytest.raises(UnreadableImageError, match="TypeError") as caught:
        await inspector.inspect(tiff_with_text_strip_offsets(), 10**8)
    assert type(caught.value) is UnreadableImageError
    with pytest.raises(ImageTooLargeError, match="too many pixels"):
        await inspector.inspect(png_bomb(), 10**12)  # past Pillow's own limit, whatever ours is
