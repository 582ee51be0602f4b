"""Live messages: what watchers hear about tasks and the gallery while it happens.

Defined once, with their wire form, for every producer (the relay delivers the
outbox's status messages, a worker publishes progress ticks) and every consumer
(the api's fan-out to WebSockets and SSE streams). They travel over pub/sub and
are lossy by design: a watcher that (re)subscribes reads the state from the
database first, then hears what changes.

- ``task.status``: a task changed status (``error`` says why it failed);
- ``task.transcript``: a correction (or a restore) made a new revision;
- ``task.progress``: a running job's stage and count, often;
- the gallery's file and indexing events, named and shaped as Sketch-Search's
  web UI hears them (``{"event": "FileCreatedEvent", "data": {...}}``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol
from uuid import UUID

log = logging.getLogger(__name__)


class Channel(StrEnum):
    """Where each kind of live message is published (the outbox destination or pub/sub channel name)."""

    STATUS = "status"  # task.status and task.transcript
    PROGRESS = "progress"  # task.progress
    GALLERY = "gallery"  # the gallery's events
    CANCELLATIONS = "recognition.cancellations"  # a wake-up for whoever runs a job that must stop


@dataclass(frozen=True, slots=True)
class TaskStatusChanged:
    TYPE: ClassVar[str] = "task.status"

    task_id: UUID
    attempt: int
    status: str  # a TaskStatus value, or "deleted"
    at: datetime
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TranscriptRevised:
    """A new revision of a completed card's transcript; the card stays ``completed``."""

    TYPE: ClassVar[str] = "task.transcript"

    task_id: UUID
    attempt: int
    revision: int
    author: str | None
    at: datetime
    status: str = "completed"


@dataclass(frozen=True, slots=True)
class TaskProgressed:
    TYPE: ClassVar[str] = "task.progress"

    task_id: UUID
    attempt: int
    stage: str
    done: int
    total: int


TaskMessage = TaskStatusChanged | TranscriptRevised | TaskProgressed


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
    """Images were indexed; ``to_index`` are still waiting."""

    count: int
    to_index: int


GalleryEvent = FileCreatedEvent | FileModifiedEvent | FileMovedEvent | FileDeletedEvent | FileEmbeddedEvent
LiveMessage = TaskMessage | GalleryEvent

_TASK_TYPES: dict[str, type[TaskMessage]] = {t.TYPE: t for t in (TaskStatusChanged, TranscriptRevised, TaskProgressed)}
_GALLERY_TYPES: dict[str, type[GalleryEvent]] = {
    t.__name__: t for t in (FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileEmbeddedEvent)
}
_TIMES = frozenset({"at", "created_at", "modified_at", "moved_at"})


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def encode(message: LiveMessage) -> dict[str, Any]:
    """The JSON-ready wire form; times in ISO 8601 with their offset."""
    fields = {k: _plain(v) for k, v in asdict(message).items()}
    if isinstance(message, TaskStatusChanged | TranscriptRevised | TaskProgressed):
        if isinstance(message, TaskStatusChanged) and message.error is None:
            del fields["error"]
        return {"type": message.TYPE, **fields}
    return {"event": type(message).__name__, "data": fields}


def decode(payload: Mapping[str, Any]) -> LiveMessage | None:
    """The message a wire form stands for; None (and a log line) for anything else, so one
    malformed publication never stops a subscriber."""
    try:
        if "type" in payload:
            cls: type[LiveMessage] = _TASK_TYPES[payload["type"]]
            fields = {k: v for k, v in payload.items() if k != "type"}
            fields["task_id"] = UUID(str(fields["task_id"]))
        else:
            cls = _GALLERY_TYPES[payload["event"]]
            fields = dict(payload["data"])
        for name in _TIMES & fields.keys():
            fields[name] = datetime.fromisoformat(fields[name])
        return cls(**fields)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("ignoring a malformed live message (%s: %s)", type(exc).__name__, exc)
        return None


class LiveMessageSource(Protocol):
    """Every live message published by any process, decoded, in the order received.

    Iterating never ends while the process runs: a lost connection is re-established (messages in
    between are lost, which watchers tolerate because every subscription starts from a snapshot).
    ``subscribed`` is set while messages published from then on are sure to arrive.
    """

    @property
    def subscribed(self) -> asyncio.Event: ...

    def messages(self) -> AsyncIterator[LiveMessage]: ...
