"""Similarity search: by a drawn sketch or a photo, by an image of the gallery, by text.

Searches always run in the newest *complete* vector space, and the query is
embedded with that same model, so results never mix spaces even while a new
model is re-indexing the gallery in the background.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from kartoteka.application.gallery.errors import (
    ImageNotEmbeddedError,
    IndexNotReadyError,
    TextSearchUnavailableError,
)
from kartoteka.application.gallery.ports.embedding import ImageKind, QueryEncoder
from kartoteka.application.gallery.ports.store import (
    DuplicatePage,
    GalleryReader,
    ImageFilter,
    ImagePage,
    ModelRecord,
    ModelRegistry,
    PageRequest,
    SimilarityQuery,
    VectorIndex,
)
from kartoteka.application.shared.images import ImageInspector, UnreadableImageError


@dataclass(frozen=True, slots=True)
class SearchOptions:
    where: ImageFilter
    top_k: int
    page: PageRequest
    min_score: float | None = None


class _Search:
    def __init__(self, models: ModelRegistry, index: VectorIndex, encoder: QueryEncoder, reader: GalleryReader) -> None:
        self._models = models
        self._index = index
        self._encoder = encoder
        self._reader = reader

    async def _space(self) -> ModelRecord:
        record = await self._models.searchable()
        if record is None:
            raise IndexNotReadyError("the gallery has no complete index yet; it is being built")
        return record

    async def _run(self, vector: list[float], record: ModelRecord, options: SearchOptions) -> ImagePage:
        return await self._index.search(
            SimilarityQuery(vector, record.model, options.where, options.top_k, options.page, options.min_score)
        )


class SearchByExample(_Search):
    """A sketch drawn in the UI, or any photo: embedded on a worker with the index's model.

    The query is decoded here first, as an upload is: bytes that are no image are a 422 and a
    decompression bomb a 413 before any worker is asked, and a worker never sees them.
    """

    def __init__(
        self,
        models: ModelRegistry,
        index: VectorIndex,
        encoder: QueryEncoder,
        reader: GalleryReader,
        inspector: ImageInspector,
        max_pixels: int,
    ) -> None:
        super().__init__(models, index, encoder, reader)
        self._inspector = inspector
        self._max_pixels = max_pixels

    async def __call__(self, data: bytes, kind: ImageKind, options: SearchOptions) -> ImagePage:
        record = await self._space()
        try:
            await self._inspector.inspect(data, self._max_pixels)
        except UnreadableImageError as exc:  # ImageTooLargeError (a 413) included, with its own kind
            raise type(exc)(f"the query image cannot be used: {exc}") from None
        vector = await self._encoder.embed_image(data, kind, record.model)
        return await self._run(vector, record, options)


class SearchByImage(_Search):
    """An image of the gallery as the query: its stored vector, no model call at all."""

    async def __call__(self, image_id: UUID, options: SearchOptions) -> ImagePage:
        record = await self._space()
        await self._reader.get(image_id)  # ImageNotFoundError for an unknown id
        vector = await self._reader.vector_of(image_id, record.model)
        if vector is None:
            raise ImageNotEmbeddedError(f"image {image_id} has no vector in {record.model.key} yet")
        return await self._run(vector, record, options)


class SearchByText(_Search):
    async def __call__(self, text: str, options: SearchOptions) -> ImagePage:
        record = await self._space()
        if not record.supports_text:
            raise TextSearchUnavailableError(f"the model {record.model.key} cannot read text")
        vector = await self._encoder.embed_text(text, record.model)
        return await self._run(vector, record, options)


NEAR_DUPLICATE_SCAN = 500  # images looked at per call: each is one index probe inside a single query


class FindNearDuplicates:
    def __init__(self, models: ModelRegistry, index: VectorIndex) -> None:
        self._models = models
        self._index = index

    async def __call__(
        self, threshold: float, limit: int, after: UUID | None = None, scan: int = NEAR_DUPLICATE_SCAN
    ) -> DuplicatePage:
        """At most ``limit`` groups from the next ``scan`` images: one bounded query per call, however
        large the gallery; the page's ``next_after`` continues from there."""
        record = await self._models.searchable()
        if record is None:
            raise IndexNotReadyError("the gallery has no complete index yet; it is being built")
        return await self._index.near_duplicates(record.model, threshold, limit, after, scan)
