"""TaskIQ task definitions of the ``embedding`` queue: index images, answer search queries."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from dishka.integrations.taskiq import FromDishka, inject
from taskiq import AsyncBroker

from kartoteka.application.gallery.answer_query import AnswerQuery
from kartoteka.application.gallery.cards import SyncCardImage
from kartoteka.application.gallery.indexing import IndexImages
from kartoteka.application.gallery.outbox_messages import EMBED_JOB, QUERY_JOB
from kartoteka.application.gallery.ports.embedding import EmbeddingModelId, ImageKind
from kartoteka.application.recognition.outbox_messages import SYNC_CARD_JOB

log = logging.getLogger(__name__)


def register_embedding_tasks(broker: AsyncBroker) -> None:
    """A bad file is a per-image failure, not an exception. A batch that meets a transient failure
    leaves its images ``pending``, and the relay's sweeper sends their job again after a while; no
    TaskIQ retry label is relied on, since the relay's messages carry none. A query is answered once or
    not at all: the api has stopped waiting by the time a retry ran."""

    @broker.task(task_name=EMBED_JOB)
    @inject(patch_module=True)
    async def embed_images(image_ids: list[str], index: FromDishka[IndexImages]) -> dict[str, int]:
        try:
            report = await index.isolating([UUID(i) for i in image_ids])
        except Exception as exc:
            log.warning("indexing %d images failed; they stay pending for the sweeper: %s", len(image_ids), exc)
            return {"embedded": 0, "failed": 0, "to_index": -1}
        return {"embedded": report.embedded, "failed": report.failed, "to_index": report.to_index}

    @broker.task(task_name=SYNC_CARD_JOB)
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
