"""PillowImageInspector: is an upload a JPEG, PNG, TIFF or WebP we can fully decode?

Runs in the api process (Pillow only, no model libraries) and in a thread,
because fully decoding a large scan is the only way to catch a truncated one.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping

from PIL import Image

from kartoteka.application.shared.images import (
    ImageInfo,
    ImageTooLargeError,
    UnreadableImageError,
    UnsupportedImageError,
)
from kartoteka.infrastructure.imaging.decoding import untrusted_image

ACCEPTED = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "TIFF": ("image/tiff", ".tif"),
    "WEBP": ("image/webp", ".webp"),
}
# The gallery takes what a watched directory may hold, GIF and BMP included.
GALLERY_ACCEPTED = {**ACCEPTED, "GIF": ("image/gif", ".gif"), "BMP": ("image/bmp", ".bmp")}


def inspect_image(data: bytes, max_pixels: int, accepted: Mapping[str, tuple[str, str]] = ACCEPTED) -> ImageInfo:
    """The image's format and size, after decoding it fully; any decoder failure is UnreadableImageError,
    and an image over ``max_pixels`` (or over Pillow's bomb limit) ImageTooLargeError, before it is decoded."""
    with untrusted_image(), Image.open(io.BytesIO(data), formats=None) as image:
        fmt = (image.format or "").upper()
        if fmt not in accepted:
            names = ", ".join(sorted(accepted))
            raise UnsupportedImageError(f"{fmt or 'unknown'} images are not accepted; send one of {names}")
        content_type, extension = accepted[fmt]
        width, height = image.size
        if width < 1 or height < 1:
            raise UnreadableImageError(f"a {width}×{height} image has no pixels")
        if width * height > max_pixels:
            raise ImageTooLargeError(f"{width}×{height} pixels; at most {max_pixels} are accepted")
        image.load()
        return ImageInfo(fmt, content_type, extension, width, height)


class PillowImageInspector:
    def __init__(self, accepted: Mapping[str, tuple[str, str]] = ACCEPTED) -> None:
        self._accepted = accepted

    async def inspect(self, data: bytes, max_pixels: int) -> ImageInfo:
        return await asyncio.to_thread(inspect_image, data, max_pixels, self._accepted)
