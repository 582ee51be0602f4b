"""The worker's lease on the task it runs: renewed while the job is alive, so a lost worker is noticed."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID


class LeaseKeeper(Protocol):
    async def renew(self, task_id: UUID, attempt: int, until: datetime) -> bool:
        """Extend the lease of ``attempt`` to ``until``, outside the task's versioning (a heartbeat must
        never make a linguist's cancel conflict). False when the task is no longer running that attempt."""
        ...
