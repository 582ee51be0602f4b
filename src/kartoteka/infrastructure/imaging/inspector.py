"""PillowImageInspector: is an upload a JPEG, PNG, TIFF or WebP we can fully decode?

Runs in the api process (Pillow only, no model libraries) and in a thread,
because fully decoding a large scan is the only way to catch a truncated one.
"""

from __future__ import annotations

import asyncio
import io
import warnings

from PIL import Image, UnidentifiedImageError

from kartoteka.application.ports.images import ImageInfo
from kartoteka.application.recognition.errors import UnsupportedImageError
from kartoteka.domain.recognition.errors import UnreadableImageError

ACCEPTED = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "TIFF": ("image/tiff", ".tif"),
    "WEBP": ("image/webp", ".webp"),
}


def inspect_image(data: bytes, max_pixels: int) -> ImageInfo:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=None)
            fmt = (image.format or "").upper()
            if fmt not in ACCEPTED:
                raise UnsupportedImageError(f"{fmt or 'unknown'} images are not accepted; send JPEG, PNG, TIFF or WebP")
            content_type, extension = ACCEPTED[fmt]
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
    async def inspect(self, data: bytes, max_pixels: int) -> ImageInfo:
        return await asyncio.to_thread(inspect_image, data, max_pixels)
