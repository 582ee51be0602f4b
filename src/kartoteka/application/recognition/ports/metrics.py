"""What a recognition job tells the operators' metrics: its outcome, how long each stage took, how long it
waited in the queue.

A port, so ProcessCard and RecognizeCard stay free of any metrics library; the worker wires Prometheus
behind it, and everything else (the CLI, tests) gets :data:`NO_METRICS`.
"""

from __future__ import annotations

from typing import Protocol

STAGE_FETCH = "fetch"  # the scan from object storage
STAGE_DECODE = "decode"
STAGE_DETECT = "detect"
STAGE_RECOGNISE = "recognise"
STAGE_STORE = "store"  # the outcome written to the database


class JobMetrics(Protocol):
    def job_finished(self, outcome: str) -> None:
        """One job ended with ``outcome`` (completed, failed, cancelled, retried, dropped, unsettled)."""
        ...

    def stage_took(self, stage: str, seconds: float) -> None: ...

    def waited_in_queue(self, seconds: float) -> None:
        """From the moment the task was queued (or sent again after a retry's backoff) until a worker started it."""
        ...


class _NoMetrics:
    def job_finished(self, outcome: str) -> None:
        pass

    def stage_took(self, stage: str, seconds: float) -> None:
        pass

    def waited_in_queue(self, seconds: float) -> None:
        pass


NO_METRICS: JobMetrics = _NoMetrics()
