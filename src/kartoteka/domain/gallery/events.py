"""What changed in the gallery, as Sketch-Search's web UI hears about it (SSE and WebSocket).

The class names are the SSE event names of that contract; payload fields follow it too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class FileCreatedEvent:
    path: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FileModifiedEvent:
    path: str
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class FileMovedEvent:
    old_path: str
    new_path: str
    moved_at: datetime


@dataclass(frozen=True, slots=True)
class FileDeletedEvent:
    path: str


@dataclass(frozen=True, slots=True)
class FileEmbeddedEvent:
    """The UI listens for this name; ``ImagesIndexedEvent`` with the same payload goes out too."""

    count: int
    to_index: int


GalleryEvent = FileCreatedEvent | FileModifiedEvent | FileMovedEvent | FileDeletedEvent | FileEmbeddedEvent


def event_payload(event: GalleryEvent) -> dict[str, Any]:
    """``{"event": <class name>, "data": {...}}`` with times as ISO 8601 (time zone included)."""
    data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(event).items()}
    return {"event": type(event).__name__, "data": data}
