"""Retries and leases in the task's state machine: bounded backoff, lapsed leases, what the sweeper does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from kartoteka.domain.recognition.events import TaskCancelled, TaskFailed, TaskQueued, TaskRetryScheduled
from kartoteka.domain.recognition.retries import RetryPolicy
from kartoteka.domain.recognition.task import (
    CardImage,
    LeaseHeldError,
    NotDueError,
    RecognitionTask,
    TaskStatus,
)

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_runs=3, backoff_base_s=2.0, backoff_max_s=5.0, lease_s=30.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def running() -> RecognitionTask:
    image = CardImage(key="cards/x.png", filename="x.png", content_type="image/png", size=10, width=10, height=10)
    task = RecognitionTask.submit(uuid4(), image, T0)
    task.start(1, T0, POLICY)
    task.events.clear()
    return task


def test_backoff_doubles_and_is_capped() -> None:
    assert [POLICY.delay(runs).total_seconds() for runs in (1, 2, 3, 4)] == [2.0, 4.0, 5.0, 5.0]
    assert POLICY.may_run_again(2)
    assert not POLICY.may_run_again(3)
    with pytest.raises(ValueError, match="unusable"):
        RetryPolicy(max_runs=0)


def test_a_transient_failure_waits_for_its_retry_then_the_sweeper_sends_the_job() -> None:
    task = running()
    task.defer(1, "OSError: connection refused", at(1), POLICY)
    assert (task.status, task.runs, task.retry_at, task.lease_until) == (TaskStatus.QUEUED, 1, at(3), None)
    assert [type(e) for e in task.events] == [TaskRetryScheduled]
    with pytest.raises(NotDueError):
        task.start(1, at(2), POLICY)
    assert not task.release_retry(at(2))
    assert task.release_retry(at(3))
    assert isinstance(task.events[-1], TaskQueued)
    assert task.retry_at is None
    task.start(1, at(3), POLICY)
    assert (task.status, task.runs) == (TaskStatus.RUNNING, 2)


def test_the_last_transient_failure_fails_with_the_reason() -> None:
    task = running()
    for run in (1, 2):
        task.defer(1, "boom", at(run * 10), POLICY)
        task.release_retry(at(run * 10 + 5))
        task.start(1, at(run * 10 + 5), POLICY)
    task.defer(1, "TimeoutError: time limit", at(40), POLICY)
    assert task.status is TaskStatus.FAILED
    assert task.error == "gave up after 3 runs: TimeoutError: time limit"
    assert isinstance(task.events[-1], TaskFailed)


def test_a_cancel_requested_meanwhile_wins_over_a_retry() -> None:
    task = running()
    task.request_cancel(at(1))
    task.defer(1, "boom", at(2), POLICY)
    assert task.status is TaskStatus.CANCELLED


def test_a_live_lease_refuses_another_worker_and_an_operator_retry() -> None:
    task = running()
    with pytest.raises(LeaseHeldError):
        task.start(1, at(10), POLICY)
    with pytest.raises(LeaseHeldError, match="a worker holds it"):
        task.retry(at(10))
    assert not task.recover(at(10), POLICY)


def test_a_lapsed_lease_is_put_back_and_counts_as_a_run() -> None:
    task = running()
    assert task.recover(at(31), POLICY)
    assert (task.status, task.runs, task.lease_until) == (TaskStatus.QUEUED, 1, None)
    assert isinstance(task.events[-1], TaskQueued)
    assert "lease expired" in (task.error or "")
    task.start(1, at(32), POLICY)
    assert task.runs == 2


def test_a_task_that_keeps_losing_its_workers_fails() -> None:
    task = running()
    task.start(1, at(31), POLICY)  # a redelivery takes over the lapsed lease: run 2
    task.start(1, at(62), POLICY)  # and again: run 3
    assert not task.start(1, at(93), POLICY)  # a fourth would exceed the runs allowed
    assert task.status is TaskStatus.FAILED
    assert "worker running it was lost" in (task.error or "")


def test_cancelling_with_no_live_worker_becomes_cancelled() -> None:
    task = running()
    task.request_cancel(at(1))
    assert task.status is TaskStatus.CANCELLING
    assert not task.recover(at(10), POLICY)
    assert task.recover(at(31), POLICY)
    assert task.status is TaskStatus.CANCELLED
    assert isinstance(task.events[-1], TaskCancelled)


def test_a_queued_task_whose_message_was_lost_gets_its_job_sent_again() -> None:
    task = running()
    task.recover(at(31), POLICY)
    task.events.clear()
    assert task.recover(at(700), POLICY)
    assert [type(e) for e in task.events] == [TaskQueued]


def test_an_operator_retry_of_a_stuck_task_starts_a_new_attempt() -> None:
    task = running()
    task.retry(at(31))
    assert (task.status, task.attempt, task.runs, task.lease_until) == (TaskStatus.QUEUED, 2, 0, None)
