"""RecognitionTask state machine: legal paths, refused transitions, stale attempts, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from kartoteka.domain.recognition.events import (
    TaskCancelled,
    TaskCancelRequested,
    TaskCompleted,
    TaskFailed,
    TaskQueued,
    TaskStarted,
)
from kartoteka.domain.recognition.task import (
    CardImage,
    IllegalTransitionError,
    RecognitionTask,
    StaleAttemptError,
    TaskStatus,
)
from kartoteka.domain.recognition.transcript import Transcript

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


def test_retry_of_an_unfinished_task_is_refused() -> None:
    task = new_task()
    with pytest.raises(IllegalTransitionError, match="cannot retry"):
        task.retry(later(1))


def test_redelivered_job_restarts_the_same_attempt_without_a_second_event() -> None:
    task = new_task()
    task.start(1, later(1))
    task.start(1, later(2))  # the worker died; the broker redelivered the message
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
