"""How often a job runs again after a transient failure, and how long a worker's lease lasts.

A *run* is one execution of a job for one attempt of a task: a worker claims
the task (run N starts), and either settles it (completed, failed for bad
input, cancelled) or meets a transient failure — a database, S3, Redis or
broker it cannot reach, or the job's time limit. A transient failure puts the
task back in the queue after ``delay(runs)``; once ``max_runs`` runs have
failed, the task fails with the reason. A lease is the promise a worker
keeps renewing while it runs; when it stops (the worker died, a message was
lost) a sweeper puts the task back, counting that run as failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_runs: int = 4  # the first run and three retries
    backoff_base_s: float = 2.0
    backoff_max_s: float = 60.0
    lease_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_runs < 1 or self.backoff_base_s < 0 or self.backoff_max_s < 0 or self.lease_s <= 0:
            raise ValueError(f"unusable retry policy: {self}")

    def delay(self, runs: int) -> timedelta:
        """Exponential backoff after the ``runs``-th failed run, capped at ``backoff_max_s``."""
        seconds = min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, runs - 1))
        return timedelta(seconds=seconds)

    def may_run_again(self, runs: int) -> bool:
        return runs < self.max_runs

    def lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.lease_s)
