"""Decoding uploaded card scans into upright 8-bit RGB.

Scans arrive from phones (EXIF-rotated JPEG), flatbed scanners (16-bit or
CMYK TIFF/PNG/JPEG) and screenshots with transparency. The models were
trained on PIL RGB images, so everything is brought to that one form here,
and anything that is not a usable image becomes UnreadableImageError rather
than a crash deep inside a model.
"""

from __future__ import annotations

import asyncio
import io
import sys

import numpy as np
from PIL import Image, ImageOps

from kartoteka.application.shared.images import ImageTooLargeError, UnreadableImageError
from kartoteka.infrastructure.imaging.decoding import untrusted_image


def _open(data: bytes) -> Image.Image:
    """Pillow's own opener: ultralytics replaces ``Image.open`` with one that tries to
    pip-install a HEIF plugin whenever a file is not an image."""
    opener = getattr(sys.modules.get("ultralytics.utils.patches"), "_image_open", Image.open)
    image: Image.Image = opener(io.BytesIO(data))
    return image


def decode_card(data: bytes, *, max_pixels: int) -> Image.Image:
    """Decode, apply EXIF orientation, and convert to RGB (alpha flattened onto white).

    Whatever the decoder raises on hostile bytes is UnreadableImageError; an image
    over ``max_pixels`` (or Pillow's bomb threshold) is ImageTooLargeError, refused
    from its header before any pixel is decoded.
    """
    if not data:
        raise UnreadableImageError("the file is empty")
    with untrusted_image(bomb_warning_is_error=True):
        image = _open(data)
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLargeError(
                f"image is {width}×{height} = {width * height} pixels, more than the {max_pixels} allowed"
            )
        image.load()
        image = ImageOps.exif_transpose(image) or image
        return _to_rgb(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        return _high_depth_to_rgb(image)
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """Scale 16-bit and float greyscale to 8 bits by the format's range, not by clipping."""
    array = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        array = (array - lo) * scale
    else:
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        array = array * (255.0 / peak)
    grey = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


class PillowCardImageLoader:
    """CardImageLoader that decodes in a thread so big scans don't stall the loop."""

    def __init__(self, max_pixels: int) -> None:
        self._max_pixels = max_pixels

    async def load(self, data: bytes) -> Image.Image:
        return await asyncio.to_thread(decode_card, data, max_pixels=self._max_pixels)
