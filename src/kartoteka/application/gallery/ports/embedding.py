"""What the gallery use cases need from an image encoder.

The application never sees an array: images go in as the bytes of their
files (or a drawn sketch), vectors come out as lists of floats, already
L2-normalised so that cosine similarity is a dot product. Everything between
(decoding, EXIF orientation, alpha onto white, resizing, normalisation and
the model itself) belongs to the adapter, which is how the gallery and the
query are guaranteed to go through one and the same preprocessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class EmbeddingModelId:
    """One vector space: the registry key and a version derived from the weights.

    Two vectors are comparable only when both fields are equal; a changed
    checkpoint under the same key is a new version and a new space.
    """

    key: str
    version: str


class ImageKind(StrEnum):
    """How an image was made, which picks the model's transform where it has two."""

    PHOTO = "photo"
    SKETCH = "sketch"


@dataclass(frozen=True, slots=True)
class Embedded:
    vector: list[float]


@dataclass(frozen=True, slots=True)
class NotEmbedded:
    """One input the encoder could not use; the rest of its batch is unaffected."""

    reason: str


EmbeddingOutcome = Embedded | NotEmbedded


class TextSearchUnsupportedError(Exception):
    """The active model has no text tower."""


class ImageEncoder(Protocol):
    @property
    def model(self) -> EmbeddingModelId: ...

    @property
    def dimension(self) -> int: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def supports_text(self) -> bool: ...

    async def embed_images(self, images: Sequence[bytes], kind: ImageKind = ImageKind.PHOTO) -> list[EmbeddingOutcome]:
        """One outcome per input, in order; a bad input is a NotEmbedded, never an exception."""
        ...

    async def embed_text(self, text: str) -> list[float]:
        """Raises TextSearchUnsupportedError when the model cannot read text."""
        ...


class QueryEncoder(Protocol):
    """Embeds a search query with the model the index was built with (on a worker: never in the api)."""

    async def embed_image(self, data: bytes, kind: ImageKind, model: EmbeddingModelId) -> list[float]:
        """Raises QueryNotUsableError for a bad image, EncoderUnavailableError when no worker can answer."""
        ...

    async def embed_text(self, text: str, model: EmbeddingModelId) -> list[float]: ...


class QueryInbox(Protocol):
    """Where the api leaves a query image for the worker that embeds it (too big for a job message)."""

    async def take(self, key: str) -> bytes | None:
        """The bytes left under ``key``, removed; None when they expired or were taken."""
        ...
