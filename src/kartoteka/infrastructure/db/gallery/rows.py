"""Mapping gallery rows to domain objects, and vectors to pgvector's text form.

Vectors travel as text (``'[0.1,0.2,…]'::vector``) so that no driver codec
has to be registered on every connection of every process.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from kartoteka.application.gallery.ports.embedding import EmbeddingModelId
from kartoteka.domain.gallery.image import GalleryImage, ImageSource

_SAFE = re.compile(r"^[A-Za-z0-9_.:@+-]{1,200}$")


def image_to_row(image: GalleryImage) -> dict[str, Any]:
    return {
        "id": image.id,
        "source": image.source.value,
        "path": image.path,
        "directory": image.directory,
        "name": image.name,
        "root": image.root,
        "root_path": image.root_path,
        "object_key": image.object_key,
        "task_id": image.task_id,
        "media_type": image.media_type,
        "size": image.size,
        "mtime_ns": image.mtime_ns,
        "width": image.width,
        "height": image.height,
        "content_hash": image.content_hash,
        "thumbnail_key": image.thumbnail_key,
        "error": image.error,
        "uploaded_by": image.uploaded_by,
        "created_at": image.created_at,
        "modified_at": image.modified_at,
    }


def image_from_row(row: Any) -> GalleryImage:
    return GalleryImage(
        id=row.id,
        source=ImageSource(row.source),
        path=row.path,
        name=row.name,
        directory=row.directory,
        size=row.size,
        content_hash=row.content_hash,
        created_at=row.created_at,
        modified_at=row.modified_at,
        media_type=row.media_type,
        width=row.width,
        height=row.height,
        root=row.root,
        root_path=row.root_path,
        mtime_ns=row.mtime_ns,
        object_key=row.object_key,
        task_id=row.task_id,
        thumbnail_key=row.thumbnail_key,
        error=row.error,
        uploaded_by=row.uploaded_by,
    )


def vector_text(vector: list[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def parse_vector(text: str) -> list[float]:
    return [float(x) for x in text.strip("[]").split(",")] if text.strip("[]") else []


def literal(value: str) -> str:
    """A model key or version inlined into SQL: the partial HNSW index matches literals only.

    A bound parameter would leave the planner a generic plan that cannot prove the index's
    predicate; the values come from our registry, and are checked to be plain tokens anyway.
    """
    if not _SAFE.match(value):
        raise ValueError(f"unsafe identifier for a vector index: {value!r}")
    return "'" + value + "'"


def index_name(model: EmbeddingModelId) -> str:
    digest = hashlib.sha1(f"{model.key}\0{model.version}".encode(), usedforsecurity=False).hexdigest()[:12]
    return f"ix_image_vectors_hnsw_{digest}"
