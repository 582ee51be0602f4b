"""TaskIQ task definitions of the ``embedding`` queue: index images, answer search queries."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.taskiq import FromDishka, inject
from taskiq import AsyncBroker, Context, TaskiqDepends

from kartoteka.application.gallery.answer_query import AnswerQuery
from kartoteka.application.gallery.cards import SyncCardImage
from kartoteka.application.gallery.indexing import IndexImages
from kartoteka.application.gallery.outbox_messages import EMBED_JOB, QUERY_JOB
from kartoteka.application.gallery.ports.embedding import EmbeddingModelId, ImageKind
from kartoteka.application.recognition.outbox_messages import SYNC_CARD_JOB
from kartoteka.presentation.worker.tasks import tries_so_far

log = logging.getLogger(__name__)


def register_embedding_tasks(broker: AsyncBroker, *, timeout_s: float, max_retries: int) -> None:
    """Indexing retries transient failures (a bad file is a per-image failure, not an exception);
    a query is answered once or not at all: the api has stopped waiting by the time a retry ran."""
    runs = max_retries + 1

    @broker.task(task_name=EMBED_JOB, timeout=timeout_s, retry_on_error=True, max_retries=runs)
    @inject(patch_module=True)
    async def embed_images(
        image_ids: list[str], index: FromDishka[IndexImages], context: Annotated[Context, TaskiqDepends()]
    ) -> dict[str, int]:
        try:
            report = await index([UUID(i) for i in image_ids])
        except Exception as exc:
            run = tries_so_far(context) + 1
            log.warning("indexing %d images failed on run %d of %d: %s", len(image_ids), run, runs, exc)
            raise
        return {"embedded": report.embedded, "failed": report.failed, "to_index": report.to_index}

    @broker.task(task_name=SYNC_CARD_JOB, timeout=timeout_s, retry_on_error=True, max_retries=runs)
    @inject(patch_module=True)
    async def sync_card(task_id: str, sync: FromDishka[SyncCardImage]) -> str | None:
        image = await sync(UUID(task_id))
        return None if image is None else str(image.id)

    @broker.task(task_name=QUERY_JOB, timeout=60)
    @inject(patch_module=True)
    async def embed_query(request: dict[str, Any], answer: FromDishka[AnswerQuery]) -> dict[str, Any]:
        key, version = request["model"]
        model = EmbeddingModelId(str(key), str(version))
        if "text" in request:
            result = await answer.text(str(request["text"]), model)
        else:
            result = await answer.image(str(request["stash"]), ImageKind(request.get("kind", "photo")), model)
        return {"vector": result.vector, "unusable": result.unusable, "unavailable": result.unavailable}
