"""TaskIQ task definitions: the worker's thin edge around ProcessCard."""

from __future__ import annotations

from uuid import UUID

from dishka.integrations.taskiq import FromDishka, inject
from taskiq import AsyncBroker

from kartoteka.application.recognition.messages import RECOGNIZE_JOB
from kartoteka.application.recognition.process_card import ProcessCard


def register_recognition_tasks(broker: AsyncBroker, *, timeout_s: float, max_retries: int) -> None:
    """Transient failures (storage, database, a lost GPU) are retried; bad input and cancellation never are,
    because ProcessCard turns those into final task states instead of exceptions."""

    @broker.task(task_name=RECOGNIZE_JOB, timeout=timeout_s, retry_on_error=True, max_retries=max_retries)
    @inject(patch_module=True)
    async def recognize(task_id: str, attempt: int, process: FromDishka[ProcessCard]) -> str:
        outcome = await process(UUID(task_id), attempt)
        return outcome.value
