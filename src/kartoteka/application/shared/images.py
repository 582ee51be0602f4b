"""Images from outside: checking an upload before anything is stored, and the two ways bytes can fail to be one.

Card scans, gallery uploads, query images and watched files are all untrusted bytes; every
context refuses them with the same two errors, whichever decoder found the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kartoteka.domain.errors import ErrorKind, Refusal


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # JPEG, PNG, TIFF, WEBP
    content_type: str
    extension: str
    width: int
    height: int


class ImageInspector(Protocol):
    async def inspect(self, data: bytes, max_pixels: int) -> ImageInfo:
        """Decode fully (so truncation is caught); raise UnreadableImageError or UnsupportedImageError."""
        ...


class UnsupportedImageError(Refusal):
    """Decodable, but not one of the accepted formats."""

    kind = ErrorKind.UNSUPPORTED


class UnreadableImageError(Refusal):
    """The bytes are not an image we can decode (or the image is unusable)."""

    kind = ErrorKind.INVALID


class ImageTooLargeError(UnreadableImageError):
    """The image has more pixels than may be decoded (a decompression bomb, or just too big): a 413, not a 422.

    A subclass, so every place that fails an unusable image fails this one too."""

    kind = ErrorKind.TOO_LARGE
