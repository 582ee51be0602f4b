"""SweepTasks: put back the work nobody is doing, so that no card is stuck.

Run periodically by the relay (any number of replicas): each sweep takes a
batch of tasks that need it, locked and skipped by other sweepers, and for
each one
- sends the job of a retry whose backoff has passed;
- queues again a running task whose worker's lease lapsed (the worker died,
  or lost the database), counting the run as failed, or fails it once its
  runs are spent;
- cancels a cancelling task no live worker holds;
- sends again the job of a task queued for ``stuck_queued_s`` with nothing
  happening and no job waiting in the outbox (its message was lost).
Jobs leave through the outbox in the same transaction, so a sweep that does
not commit sends nothing, and one task is put back once however many sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from kartoteka.application.recognition.ports.tasks import UnitOfWork
from kartoteka.application.shared.clock import Clock
from kartoteka.domain.recognition.retries import RetryPolicy


@dataclass(frozen=True, slots=True)
class SweepReport:
    looked_at: int = 0
    put_back: int = 0


class SweepTasks:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: RetryPolicy,
        stuck_queued_s: float,
        batch_size: int = 200,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._stuck = timedelta(seconds=stuck_queued_s)
        self._batch_size = batch_size

    async def __call__(self) -> SweepReport:
        """One batch; call again while ``looked_at`` equals the batch size."""
        now = self._clock()
        async with self._uow() as uow:
            tasks = await uow.tasks.needing_sweep(now, now - self._stuck, self._batch_size)
            put_back = sum(1 for task in tasks if task.release_retry(now) or task.recover(now, self._policy))
            await uow.commit()
        return SweepReport(looked_at=len(tasks), put_back=put_back)

    @property
    def batch_size(self) -> int:
        return self._batch_size
