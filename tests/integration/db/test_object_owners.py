"""SqlObjectOwners on real PostgreSQL: a key is owned exactly when a row names it."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.domain.recognition.task import CardImage, RecognitionTask
from kartoteka.infrastructure.db.object_owners import SqlObjectOwners
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork


async def test_only_the_keys_a_card_names_are_owned(engine: AsyncEngine) -> None:
    task_id = uuid4()
    key = f"cards/{task_id}/original.png"
    image = CardImage(key=key, filename="f.png", content_type="image/png", size=1, width=1, height=1)
    async with SqlUnitOfWork(engine, messages_for) as uow:
        await uow.tasks.add(RecognitionTask.submit(task_id, image, datetime.now(UTC)))
        await uow.commit()
    orphan = f"cards/{uuid4()}/original.png"

    owners = SqlObjectOwners(engine)

    assert await owners.owned([key, orphan, f"thumbnails/{uuid4()}.jpg"]) == {key}
    assert await owners.owned([]) == set()
