"""TaskIQ task definitions: the worker's thin edge around ProcessCard.

No TaskIQ retry or timeout labels: the relay sends jobs by name, so labels set
here never travel with the message. Retries, the time limit and leases belong
to ProcessCard and the sweeper, and work the same over every broker.
"""

from __future__ import annotations

import logging
from uuid import UUID

from dishka.integrations.taskiq import FromDishka, inject
from taskiq import AsyncBroker

from kartoteka.application.recognition.outbox_messages import RECOGNIZE_JOB
from kartoteka.application.recognition.process_card import ProcessCard
from kartoteka.application.shared.log_context import log_context

log = logging.getLogger(__name__)


def register_recognition_tasks(broker: AsyncBroker) -> None:
    @broker.task(task_name=RECOGNIZE_JOB)
    @inject(patch_module=True)
    async def recognize(task_id: str, attempt: int, process: FromDishka[ProcessCard]) -> str:
        with log_context(task_id=task_id):
            try:
                outcome = await process(UUID(task_id), attempt)
            except Exception as exc:
                # Not even the claim or the outcome could be written (the database stayed out of reach while
                # ProcessCard waited): the task keeps its state in the database, and the sweeper puts it back
                # once its lease lapses or it has sat queued too long. Nothing more can be done from here.
                log.error("job %s/%d left to the sweeper: %s: %s", task_id, attempt, type(exc).__name__, exc)
                return "unsettled"
            return outcome.value
