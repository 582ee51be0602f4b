"""PillowThumbnailMaker: small upright JPEGs for the gallery grid, made by workers, kept in S3.

Aspect ratio is kept (the long side is ``size``), EXIF orientation applied, transparency
flattened onto white so a drawn sketch does not turn black, any mode converted to RGB.
"""

from __future__ import annotations

import asyncio
import io

from PIL import Image, ImageOps

from kartoteka.application.gallery.ports.files import Thumbnail
from kartoteka.application.shared.images import ImageTooLargeError
from kartoteka.infrastructure.imaging.decoding import untrusted_image


def make_thumbnail(data: bytes, size: int, max_pixels: int) -> Thumbnail:
    """Raises UnreadableImageError (ImageTooLargeError past ``max_pixels``) for anything it cannot draw."""
    with untrusted_image(), Image.open(io.BytesIO(data)) as opened:
        if opened.width * opened.height > max_pixels:
            raise ImageTooLargeError(f"{opened.width}×{opened.height} is over {max_pixels} pixels")
        # The original's upright size, before draft() decodes a JPEG at a reduced scale.
        turned = opened.getexif().get(0x0112, 1) in {5, 6, 7, 8}
        width, height = (opened.height, opened.width) if turned else (opened.width, opened.height)
        opened.draft("RGB", (size * 2, size * 2))
        image = _flatten(ImageOps.exif_transpose(opened))
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85, optimize=True)
    return Thumbnail(out.getvalue(), "image/jpeg", width, height)


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode == "I;16" or image.mode.startswith("I;16") or image.mode == "I":
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image.convert("RGB")


class PillowThumbnailMaker:
    def __init__(self, size: int = 256, max_pixels: int = 200_000_000) -> None:
        self._size = size
        self._max_pixels = max_pixels

    async def make(self, data: bytes) -> Thumbnail:
        return await asyncio.to_thread(make_thumbnail, data, self._size, self._max_pixels)
