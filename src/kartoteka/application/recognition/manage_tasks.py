"""What a linguist does with a task after submitting it: look, cancel, retry, delete."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from kartoteka.application.recognition.ports.tasks import UnitOfWork
from kartoteka.application.shared.clock import Clock
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.domain.recognition.task import RecognitionTask


class GetTask:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, task_id: UUID) -> RecognitionTask:
        async with self._uow() as uow:
            return await uow.tasks.get(task_id)


async def _change(
    uow_factory: Callable[[], UnitOfWork], task_id: UUID, change: Callable[[RecognitionTask], None]
) -> RecognitionTask:
    """Load a task, apply one domain transition, commit it with its events.

    The task is locked while it changes: a worker settling it at the same moment waits for this
    commit (and then sees it) instead of making this change fail as a conflict.
    """
    async with uow_factory() as uow:
        task = await uow.tasks.get(task_id, lock=True)
        change(task)
        await uow.commit()
        return task


class CancelTask:
    """Queued: cancelled at once and never runs. Running: the worker is signalled and stops between batches;
    running with no live lease (no worker left): cancelled at once."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, task_id: UUID) -> RecognitionTask:
        return await _change(self._uow, task_id, lambda task: task.request_cancel(self._clock()))


class RetryTask:
    """Failed, cancelled or completed tasks run again, as a new attempt, with the current models; so does
    a stuck one (queued, running or cancelling with no live worker lease). A task a worker holds is
    refused with LeaseHeldError (409)."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, task_id: UUID) -> RecognitionTask:
        return await _change(self._uow, task_id, lambda task: task.retry(self._clock()))


class DeleteTask:
    """Removes the task and its scan; a job still running for it is told to stop."""

    def __init__(self, uow: Callable[[], UnitOfWork], storage: ObjectStorage, clock: Clock) -> None:
        self._uow = uow
        self._storage = storage
        self._clock = clock

    async def __call__(self, task_id: UUID) -> None:
        async with self._uow() as uow:
            task = await uow.tasks.get(task_id, lock=True)
            task.mark_deleted(self._clock())
            await uow.tasks.delete(task)
            await uow.commit()
        await self._storage.delete(task.image.key)
