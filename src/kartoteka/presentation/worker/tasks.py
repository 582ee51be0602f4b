"""TaskIQ task definitions: the worker's thin edge around ProcessCard."""

from __future__ import annotations

import logging
from typing import Annotated
from uuid import UUID

from dishka.integrations.taskiq import FromDishka, inject
from taskiq import AsyncBroker, Context, TaskiqDepends

from kartoteka.application.recognition.outbox_messages import RECOGNIZE_JOB
from kartoteka.application.recognition.process_card import ProcessCard
from kartoteka.application.shared.log_context import log_context

log = logging.getLogger(__name__)


def tries_so_far(context: Context) -> int:
    """Executions of this job before this one (TaskIQ's retry middleware counts them in a label)."""
    return int(context.message.labels.get("_retries", 0))


def register_recognition_tasks(broker: AsyncBroker, *, timeout_s: float, max_retries: int) -> None:
    """Transient failures (storage, database, a lost GPU) are retried with backoff, ``max_retries`` times
    after the first run; bad input and cancellation never are, because ProcessCard turns those into final
    task states instead of exceptions. When the last run fails too, the task fails with the reason."""
    runs = max_retries + 1  # TaskIQ's retry middleware counts runs, the first one included

    @broker.task(task_name=RECOGNIZE_JOB, timeout=timeout_s, retry_on_error=True, max_retries=runs)
    @inject(patch_module=True)
    async def recognize(
        task_id: str,
        attempt: int,
        process: FromDishka[ProcessCard],
        context: Annotated[Context, TaskiqDepends()],
    ) -> str:
        with log_context(task_id=task_id):
            try:
                outcome = await process(UUID(task_id), attempt)
            except Exception as exc:
                run = tries_so_far(context) + 1
                if run < runs:
                    log.warning("job %s/%d failed on run %d of %d, will retry: %s", task_id, attempt, run, runs, exc)
                    raise
                reason = f"gave up after {run} runs: {type(exc).__name__}: {exc}"
                log.error("job %s/%d %s", task_id, attempt, reason)
                outcome = await process.give_up(UUID(task_id), attempt, reason)
            return outcome.value
