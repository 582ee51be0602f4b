"""ResendLostEmbeddings: no image stays ``pending`` for ever.

An indexing job can be lost (a worker killed while it ran, a broker that
dropped the message, a batch that met an outage and was left for later). The
relay's sweeper asks for images pending longer than ``stuck_s`` whose job is
not waiting in the outbox, and sends their jobs again, in batches, through the
outbox; the rows are marked fresh in the same transaction, so several relays
hand each image out once, and a job still running is given ``stuck_s`` first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from kartoteka.application.gallery.outbox_messages import embed_job
from kartoteka.application.gallery.ports.store import GalleryUnitOfWork
from kartoteka.application.shared.clock import Clock


class ResendLostEmbeddings:
    def __init__(
        self, uow: Callable[[], GalleryUnitOfWork], clock: Clock, stuck_s: float, batch_size: int, limit: int = 1000
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._stuck = timedelta(seconds=stuck_s)
        self._batch_size = max(1, batch_size)
        self._limit = limit

    async def __call__(self) -> int:
        """Sends the jobs of one sweep; returns how many images they carry."""
        async with self._uow() as uow:
            lost = await uow.vectors.stale_pending(self._clock() - self._stuck, self._limit)
            for start in range(0, len(lost), self._batch_size):
                uow.send(embed_job(lost[start : start + self._batch_size]))
            await uow.commit()
        return len(lost)
