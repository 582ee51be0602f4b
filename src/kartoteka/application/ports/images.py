"""Checking an upload is a card image before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
