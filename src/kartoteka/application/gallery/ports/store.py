"""What the gallery use cases need: its store of images, vector search, reading bytes, queries.

Writes go through ``GalleryUnitOfWork`` (one transaction, messages into the
outbox on commit); listing and search go through ``GalleryReader`` and
``VectorIndex`` on the read side, so a search never holds a write transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from kartoteka.application.gallery.ports.embedding import EmbeddingModelId
from kartoteka.application.shared.outbox import OutboundMessage
from kartoteka.domain.gallery.image import GalleryImage


class ImageRepository(Protocol):
    async def add(self, image: GalleryImage) -> None:
        """Raises ImageConflictError when the gallery path (or the root file) is taken."""
        ...

    async def get(self, image_id: UUID) -> GalleryImage:
        """Raises ImageNotFoundError."""
        ...

    async def update(self, image: GalleryImage) -> None: ...

    async def record_indexing(self, image: GalleryImage) -> bool:
        """Store what indexing learned (thumbnail key, pixel size, error) and nothing else of ``image``.

        Only onto the same content (``content_hash``) as ``image`` was read with, and the row stays
        locked until the transaction ends. False when it has been deleted or its content changed.
        """
        ...

    async def delete(self, image_id: UUID) -> None: ...

    async def in_root(self, root: str) -> list[GalleryImage]:
        """Every image whose bytes are files of ``root`` (reconciliation's view of the index)."""
        ...

    async def by_root_path(self, root: str, root_path: str) -> GalleryImage | None: ...

    async def of_task(self, task_id: UUID) -> GalleryImage | None:
        """The card scan of a recognition task, once it joined the gallery."""
        ...

    async def under_root_path(self, root: str, prefix: str) -> list[GalleryImage]:
        """Files of ``root`` inside the folder ``prefix`` (a directory moved or deleted as a whole)."""
        ...

    async def remember_directories(self, directories: Sequence[tuple[str, datetime, datetime]]) -> None:
        """Upsert gallery folders with their created/modified times (the tree shows empty ones too)."""
        ...

    async def forget_directories(self, prefix: str) -> None: ...


class VectorStore(Protocol):
    async def mark_pending(self, image_ids: Sequence[UUID], model: EmbeddingModelId) -> None: ...

    async def save(self, image_id: UUID, model: EmbeddingModelId, vector: list[float]) -> None: ...

    async def save_failure(self, image_id: UUID, model: EmbeddingModelId, reason: str) -> None: ...

    async def stale_pending(self, before: datetime, limit: int) -> list[UUID]:
        """Up to ``limit`` images pending since ``before`` (for a model still in use) whose job is not
        waiting to be sent: their job was lost. Each is marked fresh, so it is handed out once."""
        ...

    async def clear(self, image_id: UUID) -> None:
        """Forget every vector of an image whose content changed."""
        ...


class GalleryUnitOfWork(Protocol):
    @property
    def images(self) -> ImageRepository: ...

    @property
    def vectors(self) -> VectorStore: ...

    def send(self, message: OutboundMessage) -> None:
        """Queue an outbox message, written in the same transaction on commit."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


class ModelState(StrEnum):
    BUILDING = "building"
    READY = "ready"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class ModelRecord:
    model: EmbeddingModelId
    dimension: int
    state: ModelState
    supports_text: bool
    created_at: datetime
    ready_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IndexProgress:
    model: EmbeddingModelId
    embedded: int
    failed: int
    pending: int

    @property
    def complete(self) -> bool:
        return self.pending == 0


class ModelRegistry(Protocol):
    """Which vector spaces exist and which one searches use."""

    async def register(self, model: EmbeddingModelId, dimension: int, supports_text: bool) -> ModelRecord:
        """Record a model (``building`` when new) and make sure its ANN index exists."""
        ...

    async def get(self, model: EmbeddingModelId) -> ModelRecord | None: ...

    async def mark_ready(self, model: EmbeddingModelId) -> None:
        """The model's vectors are complete; older models of the gallery are retired."""
        ...

    async def searchable(self) -> ModelRecord | None:
        """The newest ``ready`` model: searches never mix spaces, nor use one that is half built."""
        ...

    async def progress(self, model: EmbeddingModelId) -> IndexProgress: ...

    async def building(self) -> list[ModelRecord]:
        """Models whose vectors are still being computed (a re-index in the background)."""
        ...

    async def images_without_vectors(self, model: EmbeddingModelId, limit: int) -> list[UUID]:
        """Images with no vector row for ``model`` yet (a new model re-embeds the whole gallery)."""
        ...


class Ordering(StrEnum):
    CREATED = "created_at"
    MODIFIED = "modified_at"
    NAME = "user_visible_name"


@dataclass(frozen=True, slots=True)
class ImageFilter:
    """Sketch-Search's filters: ``directory`` None means every folder, ``.`` the top folder only."""

    directory: str | None = None
    name_contains: str | None = None
    created_min: datetime | None = None
    created_max: datetime | None = None
    modified_min: datetime | None = None
    modified_max: datetime | None = None


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    items_per_page: int = 10

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.items_per_page


@dataclass(frozen=True, slots=True)
class ImageHit:
    image: GalleryImage
    score: float | None = None  # cosine similarity, for searches


@dataclass(frozen=True, slots=True)
class ImagePage:
    hits: list[ImageHit]
    total: int  # every match of the filters (of the search: within top_k and min_score)
    model: EmbeddingModelId | None = None


@dataclass(frozen=True, slots=True)
class DirectoryNode:
    path: str
    parent: str | None
    created_at: datetime
    modified_at: datetime
    children: list[DirectoryNode] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DuplicatePage:
    """Near-duplicate groups found among one slice of the images; ``next_after`` resumes after it
    (None: every image has been looked at)."""

    groups: list[list[UUID]]
    next_after: UUID | None


class GalleryReader(Protocol):
    async def listing(self, where: ImageFilter, order: Ordering, descending: bool, page: PageRequest) -> ImagePage: ...

    async def get(self, image_id: UUID) -> GalleryImage:
        """Raises ImageNotFoundError."""
        ...

    async def vector_of(self, image_id: UUID, model: EmbeddingModelId) -> list[float] | None: ...

    async def tree(self) -> DirectoryNode: ...

    async def pending_count(self, model: EmbeddingModelId) -> int: ...


@dataclass(frozen=True, slots=True)
class SimilarityQuery:
    vector: list[float]
    model: EmbeddingModelId
    where: ImageFilter
    top_k: int
    page: PageRequest
    min_score: float | None = None


class VectorIndex(Protocol):
    async def search(self, query: SimilarityQuery) -> ImagePage:
        """Nearest first by cosine similarity, ties by id; ``total`` counts hits within top_k/min_score."""
        ...

    async def near_duplicates(
        self, model: EmbeddingModelId, threshold: float, limit: int, after: UUID | None, scan: int
    ) -> DuplicatePage:
        """Groups of images whose vectors are at least ``threshold`` similar, looking at the next ``scan``
        images (by id) after ``after``: each group is an image and its later near twins."""
        ...
