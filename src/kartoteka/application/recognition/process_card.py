"""ProcessCard: what a worker does with one job message ``(task_id, attempt)``.

Idempotent by construction: the job first claims the task in the database;
a job for a task that is gone, finished, cancelled or owned by a newer
attempt is dropped without touching anything, so a redelivered or duplicated
message completes a task exactly once. The outcome is written through the
unit of work, so its status event leaves through the outbox.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol
from uuid import UUID

from kartoteka.application.recognition.errors import RecognitionCancelledError
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
from kartoteka.domain.recognition.task import IllegalTransitionError, Progress, StaleAttemptError, TaskStatus
from kartoteka.domain.recognition.transcript import Transcript

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DROPPED = "dropped"


class CardRecognizer(Protocol):
    def __call__(
        self, data: bytes, *, progress: ProgressReporter | None = None, cancelled: CancellationSignal | None = None
    ) -> Awaitable[Transcript]: ...


class ProcessCard:
    STORE_EVERY_S = 1.0  # how often at most the latest progress is written where a fresh reader finds it

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        recognize: CardRecognizer,
        feed: ProgressFeed,
        probe: CancellationProbe,
        clock: Clock,
        store: ProgressStore,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._recognize = recognize
        self._feed = feed
        self._probe = probe
        self._clock = clock
        self._store = store

    async def __call__(self, task_id: UUID, attempt: int) -> Outcome:
        image_key = await self._claim(task_id, attempt)
        if image_key is None:
            return Outcome.DROPPED
        try:
            data = (await self._storage.get(image_key)).data
        except ObjectNotFoundError:
            return await self._finish(task_id, attempt, failure="the card's image is missing from storage")

        last_saved: datetime | None = None

        async def report(progress: Progress) -> None:
            nonlocal last_saved
            await self._feed.publish(task_id, attempt, progress)
            now = self._clock()
            # Live ticks go to watchers every batch; the stored copy is refreshed at most once per interval.
            if last_saved is None or (now - last_saved).total_seconds() >= self.STORE_EVERY_S:
                await self._store.save(task_id, attempt, progress)
                last_saved = now

        async def cancelled() -> bool:
            return await self._probe.is_cancelled(task_id, attempt)

        try:
            transcript = await self._recognize(data, progress=report, cancelled=cancelled)
        except RecognitionCancelledError:
            return await self._finish(task_id, attempt, cancelled=True)
        except UnreadableImageError as exc:
            return await self._finish(task_id, attempt, failure=f"unreadable image: {exc}")
        return await self._finish(task_id, attempt, transcript=transcript)

    async def _claim(self, task_id: UUID, attempt: int) -> str | None:
        async with self._uow() as uow:
            try:
                task = await uow.tasks.get(task_id)
                if task.status is TaskStatus.CANCELLING:
                    task.confirm_cancelled(attempt, self._clock())
                    await uow.commit()
                    return None
                task.start(attempt, self._clock())
            except TaskNotFoundError:
                log.info("dropping job for deleted task %s", task_id)
                return None
            except (IllegalTransitionError, StaleAttemptError) as exc:
                log.info("dropping job %s/%d: %s", task_id, attempt, exc)
                return None
            await uow.commit()
            return task.image.key

    async def _finish(
        self,
        task_id: UUID,
        attempt: int,
        *,
        transcript: Transcript | None = None,
        failure: str | None = None,
        cancelled: bool = False,
    ) -> Outcome:
        async with self._uow() as uow:
            try:
                task = await uow.tasks.get(task_id)
                now = self._clock()
                if cancelled or task.status is TaskStatus.CANCELLING:
                    task.confirm_cancelled(attempt, now)
                    outcome = Outcome.CANCELLED
                elif failure is not None:
                    task.fail(attempt, failure, now)
                    outcome = Outcome.FAILED
                else:
                    assert transcript is not None
                    task.complete(attempt, transcript, now)
                    outcome = Outcome.COMPLETED
            except TaskNotFoundError:
                return Outcome.DROPPED  # deleted while it ran
            except (IllegalTransitionError, StaleAttemptError) as exc:
                log.info("result of %s/%d discarded: %s", task_id, attempt, exc)
                return Outcome.DROPPED
            await uow.commit()
            return outcome

    async def give_up(self, task_id: UUID, attempt: int, reason: str) -> Outcome:
        """The job failed on every try it was allowed: the task fails with the reason, visibly.

        Without this a task whose retries ran out would stay ``running`` for ever, which no
        linguist watching it could tell from a slow card.
        """
        return await self._finish(task_id, attempt, failure=reason)
