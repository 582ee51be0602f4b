"""Live messages keep their wire form: what old clients, the SSE stream and the integration exchange read."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from kartoteka.application.shared.live_messages import (
    FileEmbeddedEvent,
    FileMovedEvent,
    LiveMessage,
    TaskProgressed,
    TaskStatusChanged,
    TranscriptRevised,
    decode,
    encode,
)

T = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
TASK = UUID(int=5)


def test_a_status_change_is_sent_as_the_clients_read_it() -> None:
    assert encode(TaskStatusChanged(TASK, 2, "failed", T, error="unreadable image")) == {
        "type": "task.status",
        "task_id": str(TASK),
        "attempt": 2,
        "status": "failed",
        "at": "2026-05-01T12:00:00+00:00",
        "error": "unreadable image",
    }
    assert "error" not in encode(TaskStatusChanged(TASK, 1, "completed", T))


def test_a_correction_and_a_progress_tick() -> None:
    assert encode(TranscriptRevised(TASK, 1, 3, "ann@example.org", T)) == {
        "type": "task.transcript",
        "task_id": str(TASK),
        "attempt": 1,
        "revision": 3,
        "author": "ann@example.org",
        "at": "2026-05-01T12:00:00+00:00",
        "status": "completed",
    }
    assert encode(TaskProgressed(TASK, 1, "reading", 2, 9)) == {
        "type": "task.progress",
        "task_id": str(TASK),
        "attempt": 1,
        "stage": "reading",
        "done": 2,
        "total": 9,
    }


def test_a_gallery_event_has_its_sse_name_and_data() -> None:
    assert encode(FileMovedEvent("a/x.png", "b/x.png", T)) == {
        "event": "FileMovedEvent",
        "data": {"old_path": "a/x.png", "new_path": "b/x.png", "moved_at": "2026-05-01T12:00:00+00:00"},
    }


@pytest.mark.parametrize(
    "message",
    [
        TaskStatusChanged(TASK, 1, "running", T),
        TaskStatusChanged(TASK, 1, "failed", T, error="x"),
        TranscriptRevised(TASK, 1, 1, None, T),
        TaskProgressed(TASK, 1, "detecting", 0, 1),
        FileMovedEvent("a", "b", T),
        FileEmbeddedEvent(3, 7),
    ],
)
def test_every_message_survives_its_wire_form(message: LiveMessage) -> None:
    assert decode(encode(message)) == message


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "task.status", "task_id": "not a uuid", "attempt": 1, "status": "queued", "at": T.isoformat()},
        {"type": "task.unknown", "task_id": str(TASK)},
        {"event": "NoSuchEvent", "data": {}},
        {"event": "FileDeletedEvent", "data": {"path": "x", "extra": 1}},
        {"something": "else"},
    ],
)
def test_anything_else_is_dropped(payload: dict[str, object]) -> None:
    assert decode(payload) is None
