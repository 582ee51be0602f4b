"""PillowImageInspector: is an upload a JPEG, PNG, TIFF or WebP we can fully decode?

Runs in the api process (Pillow only, no model libraries) and in a thread,
because fully decoding a large scan is the only way to catch a truncated one.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import Mapping

from PIL import Image, UnidentifiedImageError

from kartoteka.application.shared.images import ImageInfo, UnreadableImageError, UnsupportedImageError

ACCEPTED = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "TIFF": ("image/tiff", ".tif"),
    "WEBP": ("image/webp", ".webp"),
}
# The gallery takes what a watched directory may hold, GIF and BMP included.
GALLERY_ACCEPTED = {**ACCEPTED, "GIF": ("image/gif", ".gif"), "BMP": ("image/bmp", ".bmp")}


def inspect_image(data: bytes, max_pixels: int, accepted: Mapping[str, tuple[str, str]] = ACCEPTED) -> ImageInfo:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=None)
            fmt = (image.format or "").upper()
            if fmt not in accepted:
                names = ", ".join(sorted(accepted))
                raise UnsupportedImageError(f"{fmt or 'unknown'} images are not accepted; send one of {names}")
            content_type, extension = accepted[fmt]
            width, height = image.size
            info = ImageInfo(fmt, content_type, extension, width, height)
            if width * height > max_pixels or width < 1 or height < 1:
                return info  # the caller refuses it by size; no need to decode
            image.load()
            return info
    except (UnsupportedImageError, UnreadableImageError):
        raise
    except UnidentifiedImageError:
        raise UnreadableImageError("not a recognised image") from None
    except Image.DecompressionBombError:
        raise UnreadableImageError("image is too large to decode safely") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnreadableImageError(f"image data is corrupt or truncated ({exc})") from None


class PillowImageInspector:
    def __init__(self, accepted: Mapping[str, tuple[str, str]] = ACCEPTED) -> None:
        self._accepted = accepted

    async def inspect(self, data: bytes, max_pixels: int) -> ImageInfo:
        return await asyncio.to_thread(inspect_image, data, max_pixels, self._accepted)
