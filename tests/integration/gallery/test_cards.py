"""A recognised card scan joins the gallery by itself, linked to its task, and leaves it with the task."""

from __future__ import annotations

from uuid import uuid4

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.domain.recognition.task import CardImage, RecognitionTask
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.infrastructure.clock import utc_now
from kartoteka.infrastructure.db.engine import create_engine
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.storage.s3 import S3ObjectStorage
from kartoteka_dev.tiny_embedders import lasa_sketches
from tests.integration.gallery.conftest import Gallery, eventually


async def test_a_completed_card_joins_the_gallery_and_leaves_with_its_task(gallery: Gallery) -> None:
    scan = lasa_sketches(size=160, shapes=["GShape"])[0].png
    storage = S3ObjectStorage(gallery.settings.s3)
    await storage.ensure_bucket()
    key = f"cards/{uuid4()}/original.png"
    await storage.put(key, scan, "image/png")
    engine = create_engine(gallery.settings.database)
    task = RecognitionTask.submit(uuid4(), CardImage(key, "scan.png", "image/png", len(scan), 160, 160), utc_now())
    async with SqlUnitOfWork(engine, messages_for) as uow:
        await uow.tasks.add(task)
        task.start(1, utc_now())
        task.complete(1, Transcript(160, 160, ()), utc_now())
        await uow.commit()

    async def cards() -> list[dict[str, object]]:
        body = (await gallery.client.get("/api/images", params={"directory": "cards"})).json()
        return list(body["images"])

    async def joined() -> bool:
        return len(await cards()) == 1

    await eventually(joined, 60, "the card to join the gallery")
    (card,) = await cards()
    assert card["task_id"] == str(task.id)
    assert card["source"] == "card"
    assert str(card["user_visible_name"]).endswith("-scan.png")
    await gallery.indexed()
    found = await gallery.client.post(
        "/api/images/similarity-search", files={"image": ("blob", scan, "image/png")}, data={"top_k": "1"}
    )
    assert found.json()["images"][0]["task_id"] == str(task.id)

    async with SqlUnitOfWork(engine, messages_for) as uow:
        doomed = await uow.tasks.get(task.id)
        doomed.mark_deleted(utc_now())
        await uow.tasks.delete(doomed)
        await uow.commit()

    async def left() -> bool:
        return await cards() == []

    await eventually(left, 60, "the card to leave the gallery with its task")
    await engine.dispose()
    await storage.close()
