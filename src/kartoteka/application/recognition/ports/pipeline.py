"""What the recognition use cases need from the outside world.

The ports are generic over the raster type so that the application layer
never imports an imaging library: whatever the image loader returns is
handed, untouched, to the detector and the recogniser built for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.layout import Detection
from kartoteka.domain.recognition.transcript import ModelIdentity


class Raster(Protocol):
    """The least the use case must know of a decoded image: its pixel size."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...


ImageT = TypeVar("ImageT", bound=Raster)
ImageT_co = TypeVar("ImageT_co", bound=Raster, covariant=True)
ImageT_contra = TypeVar("ImageT_contra", bound=Raster, contravariant=True)


@dataclass(frozen=True, slots=True)
class Reading:
    """One word as read by the recogniser, already normalised."""

    text: str
    confidence: float


class CardImageLoader(Protocol[ImageT_co]):
    """Decodes uploaded bytes into an upright RGB raster, or raises UnreadableImageError."""

    async def load(self, data: bytes) -> ImageT_co: ...


class WordDetector(Protocol[ImageT_contra]):
    """Finds word boxes, in the raster's own pixel coordinates."""

    @property
    def identity(self) -> ModelIdentity: ...

    async def detect(self, image: ImageT_contra) -> list[Detection]: ...


class TextRecognizer(Protocol[ImageT_contra]):
    """Reads the words inside boxes of a raster; one call is one model batch."""

    @property
    def identity(self) -> ModelIdentity: ...

    @property
    def batch_size(self) -> int: ...

    async def read(self, image: ImageT_contra, boxes: Sequence[Box]) -> list[Reading]: ...
