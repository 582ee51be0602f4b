"""RecognitionTask state machine: legal paths, refused transitions, stale attempts, events, and the revision
rules of its transcript.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from kartoteka.domain.recognition.corrections import EditWord
from kartoteka.domain.recognition.events import (
    TaskCancelled,
    TaskCancelRequested,
    TaskCompleted,
    TaskFailed,
    TaskQueued,
    TaskStarted,
    TaskTranscriptRevised,
)
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.revisions import RevisionKind, StaleRevisionError
from kartoteka.domain.recognition.task import (
    CardImage,
    IllegalTransitionError,
    RecognitionTask,
    StaleAttemptError,
    TaskStatus,
)
from kartoteka.domain.recognition.transcript import Transcript, TranscriptLine, TranscriptWord

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
EMPTY = Transcript(width=10, height=10, lines=())


def later(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_task() -> RecognitionTask:
    image = CardImage(key="cards/x.png", filename="x.png", content_type="image/png", size=10, width=10, height=10)
    return RecognitionTask.submit(uuid4(), image, T0)


def test_happy_path_records_times_and_events() -> None:
    task = new_task()
    task.start(1, later(1))
    task.complete(1, EMPTY, later(3))
    assert task.status is TaskStatus.COMPLETED
    assert (task.started_at, task.finished_at, task.updated_at) == (later(1), later(3), later(3))
    assert [type(e) for e in task.events] == [TaskQueued, TaskStarted, TaskCompleted]
    assert task.transcript == EMPTY


def test_cancelling_a_queued_task_cancels_it_at_once() -> None:
    task = new_task()
    task.request_cancel(later(1))
    assert task.status is TaskStatus.CANCELLED
    with pytest.raises(IllegalTransitionError, match="cancelled: cannot start"):
        task.start(1, later(2))  # a job still in the queue never runs


def test_cancelling_a_running_task_goes_through_cancelling() -> None:
    task = new_task()
    task.start(1, later(1))
    task.request_cancel(later(2))
    assert task.status is TaskStatus.CANCELLING
    task.request_cancel(later(3))  # asking twice is harmless
    task.confirm_cancelled(1, later(4))
    assert task.status is TaskStatus.CANCELLED
    assert [type(e) for e in task.events][-2:] == [TaskCancelRequested, TaskCancelled]


@pytest.mark.parametrize("finish", ["complete", "fail"])
def test_a_cancelled_task_never_becomes_completed_or_failed(finish: str) -> None:
    task = new_task()
    task.start(1, later(1))
    task.request_cancel(later(2))
    task.confirm_cancelled(1, later(3))

    def finish_it() -> None:
        if finish == "complete":
            task.complete(1, EMPTY, later(4))
        else:
            task.fail(1, "boom", later(4))

    with pytest.raises(IllegalTransitionError):
        finish_it()


def test_a_cancelling_task_cannot_complete() -> None:
    task = new_task()
    task.start(1, later(1))
    task.request_cancel(later(2))
    with pytest.raises(IllegalTransitionError):
        task.complete(1, EMPTY, later(3))


@pytest.mark.parametrize("status_path", ["complete", "fail", "cancel"])
def test_cancel_of_a_finished_task_is_refused(status_path: str) -> None:
    task = new_task()
    if status_path == "cancel":
        task.request_cancel(later(1))
    else:
        task.start(1, later(1))
        task.complete(1, EMPTY, later(2)) if status_path == "complete" else task.fail(1, "x", later(2))
    with pytest.raises(IllegalTransitionError, match="cannot cancel"):
        task.request_cancel(later(3))


def test_retry_starts_a_new_attempt_and_old_jobs_are_stale() -> None:
    task = new_task()
    task.start(1, later(1))
    task.fail(1, "model crashed", later(2))
    task.retry(later(3))
    assert (task.status, task.attempt, task.error, task.finished_at) == (TaskStatus.QUEUED, 2, None, None)
    assert isinstance(task.events[-1], TaskQueued)
    assert task.events[-1].attempt == 2
    with pytest.raises(StaleAttemptError):
        task.start(1, later(4))  # the old attempt's job arrives late
    task.start(2, later(5))
    assert task.status is TaskStatus.RUNNING


def test_retry_of_a_task_a_worker_holds_is_refused() -> None:
    task = new_task()
    task.start(1, later(1))
    with pytest.raises(IllegalTransitionError, match="cannot retry"):
        task.retry(later(2))


def test_redelivered_job_restarts_the_same_attempt_without_a_second_event() -> None:
    task = new_task()
    task.start(1, later(1))
    task.start(1, later(100))  # the worker died (its lease lapsed); the broker redelivered the message
    assert [type(e) for e in task.events] == [TaskQueued, TaskStarted]


def test_completed_task_cannot_start_again_without_retry() -> None:
    task = new_task()
    task.start(1, later(1))
    task.complete(1, EMPTY, later(2))
    with pytest.raises(IllegalTransitionError):
        task.start(1, later(3))


def test_failure_reason_is_kept_in_the_event() -> None:
    task = new_task()
    task.start(1, later(1))
    task.fail(1, "image unreadable", later(2))
    event = task.events[-1]
    assert isinstance(event, TaskFailed)
    assert event.reason == "image unreadable"
    assert task.error == "image unreadable"


# ------------------------------------------------------------------------------ revisions of a task


ACUTE = "\u0301"


def word(text: str, x1: float, x2: float, y1: float = 10, y2: float = 30, det: float = 0.9) -> TranscriptWord:
    return TranscriptWord(text, Box(x1, y1, x2, y2), det, 0.6)


def card() -> Transcript:
    """Two lines: 'Ба́тюшка пришёл' and 'на горе'."""
    return Transcript(
        width=400,
        height=200,
        lines=(
            TranscriptLine((word(f"Ба{ACUTE}тюшка", 10, 110), word("пришёл", 120, 200))),
            TranscriptLine((word("на", 10, 40, 50, 70), word("горе", 50, 120, 50, 70))),
        ),
    )


def texts(transcript: Transcript) -> list[list[str]]:
    return [[w.text for w in line.words] for line in transcript.lines]


def completed_task(transcript: Transcript) -> RecognitionTask:
    image = CardImage(key="cards/x.png", filename="x.png", content_type="image/png", size=10, width=400, height=200)
    task = RecognitionTask.submit(uuid4(), image, T0)
    task.start(1, T0)
    task.complete(1, transcript, T0 + timedelta(seconds=1))
    return task


def test_the_machine_reading_is_revision_0_and_each_correction_the_next() -> None:
    task = completed_task(card())
    assert task.revision == 0
    assert [r.kind for r in task.new_revisions] == [RevisionKind.MACHINE]
    revision = task.correct([EditWord(1, 1, "горы")], "anonymous", T0 + timedelta(minutes=1), expected_revision=0)
    assert (revision.number, revision.kind, revision.author) == (1, RevisionKind.CORRECTION, "anonymous")
    assert revision.operations == ({"op": "edit_word", "line": 1, "word": 1, "text": "горы"},)
    assert task.transcript == revision.transcript
    assert task.new_revisions[0].transcript == card()  # revision 0 is kept as it was
    event = task.events[-1]
    assert isinstance(event, TaskTranscriptRevised)
    assert (event.revision, event.author) == (1, "anonymous")


def test_a_stale_revision_changes_nothing() -> None:
    task = completed_task(card())
    task.correct([EditWord(1, 1, "горы")], "a", T0, expected_revision=0)
    events = len(task.events)
    with pytest.raises(StaleRevisionError) as stale:
        task.correct([EditWord(1, 1, "гора")], "b", T0, expected_revision=0)
    assert (stale.value.expected, stale.value.current) == (0, 1)
    assert task.revision == 1
    assert texts(task.transcript or card())[1] == ["на", "горы"]
    assert len(task.events) == events


def test_only_completed_tasks_are_corrected_and_a_rerun_adds_a_machine_revision() -> None:
    task = completed_task(card())
    task.correct([EditWord(1, 1, "горы")], "a", T0, expected_revision=None)
    task.retry(T0)
    with pytest.raises(IllegalTransitionError, match="queued: cannot correct"):
        task.correct([EditWord(1, 1, "гора")], "a", T0, expected_revision=1)
    assert task.transcript is not None
    assert texts(task.transcript)[1] == ["на", "горы"]  # the correction stays while the re-run waits
    task.start(2, T0)
    rerun = Transcript(400, 200, (TranscriptLine((word("новое", 10, 90),)),))
    task.complete(2, rerun, T0)
    assert task.revision == 2
    assert [(r.number, r.kind, r.attempt) for r in task.new_revisions] == [
        (0, RevisionKind.MACHINE, 1),
        (1, RevisionKind.CORRECTION, 1),
        (2, RevisionKind.MACHINE, 2),
    ]
    assert task.status is TaskStatus.COMPLETED
