"""SweepOrphanObjects: remove stored bytes that no card or image refers to, so a crash loses no space for good.

Scans and uploads are stored before the transaction that records them commits (the bytes must be there
when the row is), so a process killed in between, or a store that refused the clean-up of a refused
request, leaves an object no row names. The relay sweeps for them now and then: an object under one of
the owned prefixes, older than ``grace`` and named by no row, is deleted. The grace is what keeps
this safe: a request still in flight has written its objects moments ago, and commits (or removes them)
long before the grace ends. Prefixes outside the owned ones (exports, anything an operator keeps in the
bucket) are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from kartoteka.application.shared.clock import Clock
from kartoteka.application.shared.storage import ObjectStorage

log = logging.getLogger(__name__)

# Where card scans, gallery uploads and thumbnails live: every key under them is named by one row.
OWNED_PREFIXES = ("cards/", "gallery/", "thumbnails/")
CHUNK = 500


class ObjectOwners(Protocol):
    async def owned(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` that a card or an image refers to (as its scan, upload or thumbnail)."""
        ...


@dataclass(frozen=True, slots=True)
class OrphanReport:
    looked_at: int = 0
    deleted: int = 0


class SweepOrphanObjects:
    def __init__(
        self,
        storage: ObjectStorage,
        owners: ObjectOwners,
        clock: Clock,
        grace_s: float,
        prefixes: Sequence[str] = OWNED_PREFIXES,
    ) -> None:
        self._storage = storage
        self._owners = owners
        self._clock = clock
        self._grace = timedelta(seconds=grace_s)
        self._prefixes = tuple(prefixes)

    async def __call__(self) -> OrphanReport:
        before = self._clock() - self._grace
        looked_at = deleted = 0
        for prefix in self._prefixes:
            old = [item.key for item in await self._storage.listed(prefix) if item.modified_at < before]
            looked_at += len(old)
            for start in range(0, len(old), CHUNK):
                chunk = old[start : start + CHUNK]
                owned = await self._owners.owned(chunk)
                for key in chunk:
                    if key not in owned:
                        await self._storage.delete(key)
                        log.info("removed object %s: no card or image refers to it", key)
                        deleted += 1
        return OrphanReport(looked_at=looked_at, deleted=deleted)
