"""ProcessCard: what a worker does with one job message ``(task_id, attempt)``.

Idempotent by construction: the job first claims the task in the database
(one more run, holding a lease); a job for a task that is gone, finished,
cancelled, owned by a newer attempt or held by another live worker is dropped
without touching anything, so a redelivered or duplicated message completes a
task exactly once. The outcome is written through the unit of work, so its
status event leaves through the outbox.

Retries belong to Kartoteka, not to the broker: bad input fails the task and
cancellation cancels it, at once; any other failure — a database, S3, Redis
or broker out of reach, the job's time limit, a model error — is recorded on
the task (``defer``), which waits in the queue for a backoff and is sent again
by the sweeper, until the runs allowed are spent and it fails with the reason.
Writing the outcome is itself retried with backoff for a while, so a short
database outage costs a wait, not a card; if even that fails the lease lapses
and the sweeper takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from kartoteka.application.recognition.errors import RecognitionCancelledError
from kartoteka.application.recognition.ports.leases import LeaseKeeper
from kartoteka.application.recognition.ports.metrics import NO_METRICS, STAGE_FETCH, STAGE_STORE, JobMetrics
from kartoteka.application.recognition.ports.progress import (
    CancellationProbe,
    CancellationSignal,
    ProgressFeed,
    ProgressReporter,
    ProgressStore,
)
from kartoteka.application.recognition.ports.tasks import TaskNotFoundError, UnitOfWork
from kartoteka.application.shared.clock import Clock
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.application.shared.storage import ObjectNotFoundError, ObjectStorage
from kartoteka.domain.recognition.retries import RetryPolicy
from kartoteka.domain.recognition.task import IllegalTransitionError, Progress, StaleAttemptError, TaskStatus
from kartoteka.domain.recognition.transcript import Transcript

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_POLICY = RetryPolicy()


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRYING = "retrying"  # a transient failure: the task waits for its next run
    DROPPED = "dropped"


class CardRecognizer(Protocol):
    def __call__(
        self, data: bytes, *, progress: ProgressReporter | None = None, cancelled: CancellationSignal | None = None
    ) -> Awaitable[Transcript]: ...


class _Settle(enum.Enum):
    COMPLETE = "complete"
    FAIL = "fail"
    DEFER = "defer"
    CANCEL = "cancel"


class ProcessCard:
    STORE_EVERY_S = 1.0  # how often at most the latest progress is written where a fresh reader finds it
    WRITE_TRIES = 6  # tries to write a claim or an outcome, with the policy's backoff between them

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        recognize: CardRecognizer,
        feed: ProgressFeed,
        probe: CancellationProbe,
        clock: Clock,
        store: ProgressStore,
        leases: LeaseKeeper,
        policy: RetryPolicy = DEFAULT_POLICY,
        timeout_s: float = 600.0,
        metrics: JobMetrics = NO_METRICS,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._recognize = recognize
        self._feed = feed
        self._probe = probe
        self._clock = clock
        self._store = store
        self._leases = leases
        self._policy = policy
        self._timeout_s = timeout_s
        self._metrics = metrics

    async def __call__(self, task_id: UUID, attempt: int) -> Outcome:
        try:
            outcome = await self._process(task_id, attempt)
        except Exception:
            self._metrics.job_finished("unsettled")
            raise
        self._metrics.job_finished("retried" if outcome is Outcome.RETRYING else outcome.value)
        return outcome

    async def _process(self, task_id: UUID, attempt: int) -> Outcome:
        image_key = await self._written(lambda: self._claim(task_id, attempt), f"claim {task_id}/{attempt}")
        if image_key is None:
            return Outcome.DROPPED
        heartbeat = asyncio.create_task(self._keep_lease(task_id, attempt))
        try:
            kind, value = await self._run(task_id, attempt, image_key)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        began = time.perf_counter()
        outcome = await self._written(
            lambda: self._finish(task_id, attempt, kind, value), f"settle {task_id}/{attempt}"
        )
        self._metrics.stage_took(STAGE_STORE, time.perf_counter() - began)
        return outcome

    async def _run(self, task_id: UUID, attempt: int, image_key: str) -> tuple[_Settle, Transcript | str | None]:
        """Read the scan and the card; every way this can end, as what to write."""
        last_saved: datetime | None = None

        async def report(progress: Progress) -> None:
            nonlocal last_saved
            now = self._clock()
            # Live ticks go to watchers every batch; the stored copy is refreshed at most once per interval.
            # Progress may be lost (a watcher re-reads the task): Redis or the database out of reach for a
            # tick must not cost the card its run.
            try:
                await self._feed.publish(task_id, attempt, progress)
                if last_saved is None or (now - last_saved).total_seconds() >= self.STORE_EVERY_S:
                    await self._store.save(task_id, attempt, progress)
                    last_saved = now
            except Exception as exc:
                log.info("progress of %s/%d not delivered: %s", task_id, attempt, exc)

        async def cancelled() -> bool:
            return await self._probe.is_cancelled(task_id, attempt)

        try:
            began = time.perf_counter()
            data = (await self._storage.get(image_key)).data
            self._metrics.stage_took(STAGE_FETCH, time.perf_counter() - began)
            async with asyncio.timeout(self._timeout_s):
                transcript = await self._recognize(data, progress=report, cancelled=cancelled)
        except ObjectNotFoundError:
            return _Settle.FAIL, "the card's image is missing from storage"
        except RecognitionCancelledError:
            return _Settle.CANCEL, None
        except UnreadableImageError as exc:
            return _Settle.FAIL, f"unreadable image: {exc}"
        except TimeoutError:
            return _Settle.DEFER, f"the job ran past its time limit of {self._timeout_s:g} s"
        except Exception as exc:  # transient (a server out of reach) or a fault: run again, a bounded number of times
            log.warning("job %s/%d failed: %s: %s", task_id, attempt, type(exc).__name__, exc)
            return _Settle.DEFER, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return _Settle.COMPLETE, transcript

    async def _keep_lease(self, task_id: UUID, attempt: int) -> None:
        """Renew the lease a few times per lease period until the job ends; a missed renewal is retried
        at the next beat (if they all fail, the lease lapses and the sweeper puts the task back)."""
        beat = self._policy.lease_s / 3
        while True:
            await asyncio.sleep(beat)
            try:
                await self._leases.renew(task_id, attempt, self._policy.lease_until(self._clock()))
            except Exception as exc:
                log.warning("lease of %s/%d not renewed: %s", task_id, attempt, exc)

    async def _written(self, write: Callable[[], Awaitable[T]], what: str) -> T:
        """A database write retried with backoff: a short outage is waited out instead of losing the job."""
        for run in range(1, self.WRITE_TRIES):
            try:
                return await write()
            except Exception as exc:
                delay = self._policy.delay(run).total_seconds()
                log.warning("cannot %s (try %d, again in %.1f s): %s", what, run, delay, exc)
                await asyncio.sleep(delay)
        return await write()

    async def _claim(self, task_id: UUID, attempt: int) -> str | None:
        async with self._uow() as uow:
            try:
                task = await uow.tasks.get(task_id, lock=True)
                if task.status is TaskStatus.CANCELLING:
                    task.confirm_cancelled(attempt, self._clock())
                    await uow.commit()
                    return None
                now = self._clock()
                # Queued since it was created or sent again, or since its retry came due (before the sweeper sent it).
                queued_since = task.retry_at or task.updated_at or task.created_at
                was_queued = task.status is TaskStatus.QUEUED
                if not task.start(attempt, now, self._policy):
                    await uow.commit()  # the runs are spent: it failed instead
                    return None
            except TaskNotFoundError:
                log.info("dropping job for deleted task %s", task_id)
                return None
            except (IllegalTransitionError, StaleAttemptError) as exc:
                log.info("dropping job %s/%d: %s", task_id, attempt, exc)
                return None
            await uow.commit()
            if was_queued:
                self._metrics.waited_in_queue(max(0.0, (now - queued_since).total_seconds()))
            return task.image.key

    async def _finish(self, task_id: UUID, attempt: int, kind: _Settle, value: Transcript | str | None) -> Outcome:
        async with self._uow() as uow:
            try:
                task = await uow.tasks.get(task_id, lock=True)
                now = self._clock()
                if kind is _Settle.CANCEL or task.status is TaskStatus.CANCELLING:
                    task.confirm_cancelled(attempt, now)
                    outcome = Outcome.CANCELLED
                elif kind is _Settle.FAIL:
                    assert isinstance(value, str)
                    task.fail(attempt, value, now)
                    outcome = Outcome.FAILED
                elif kind is _Settle.DEFER:
                    assert isinstance(value, str)
                    task.defer(attempt, value, now, self._policy)
                    outcome = Outcome.RETRYING if task.status is TaskStatus.QUEUED else Outcome.FAILED
                else:
                    assert isinstance(value, Transcript)
                    task.complete(attempt, value, now)
                    outcome = Outcome.COMPLETED
            except TaskNotFoundError:
                return Outcome.DROPPED  # deleted while it ran
            except (IllegalTransitionError, StaleAttemptError) as exc:
                log.info("result of %s/%d discarded: %s", task_id, attempt, exc)
                return Outcome.DROPPED
            await uow.commit()
            if outcome is Outcome.RETRYING:
                log.warning("job %s/%d: %s", task_id, attempt, task.error)
            return outcome
