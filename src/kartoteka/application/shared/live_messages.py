"""Live messages: what watchers hear about tasks and the gallery while it happens (Redis pub/sub).

They are lossy by design: a watcher that (re)subscribes reads the state from the database
first. The gallery's events carry Sketch-Search's SSE names and payload fields.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol


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


class LiveEventSource(Protocol):
    """Every status and progress event published by any process, as decoded dicts with ``type`` and ``task_id``.

    Iterating never ends while the process runs: a lost connection is re-established (events in between
    are lost, which watchers tolerate because every subscription starts from a database snapshot).
    """

    def events(self) -> AsyncIterator[dict[str, Any]]: ...
