"""The ``/task/*`` routes, in the shapes the old recognition clients expect (docs/contracts.md)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, File, Header, Response, UploadFile

from kartoteka.application.recognition.corrections import CorrectTranscript
from kartoteka.application.recognition.manage_tasks import CancelTask, GetTask
from kartoteka.application.recognition.submit_cards import SubmitCards, UploadLimits
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.recognition.corrections import ReplaceText
from kartoteka.presentation.http.auth import Caller
from kartoteka.presentation.http.recognition import IDEMPOTENCY, REPLAYED
from kartoteka.presentation.http.schemas import LegacyTaskOut
from kartoteka.presentation.http.uploads import read_upload

router = APIRouter(prefix="/task", tags=["legacy"])


@router.post("/submit")
@inject
async def submit(
    image: Annotated[UploadFile, File()],
    submit: FromDishka[SubmitCards],
    limits: FromDishka[UploadLimits],
    caller: Caller,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY)] = None,
) -> dict[str, Any]:
    upload = await read_upload(image, limits.max_upload_bytes)
    submission = await submit([upload], submitted_by=caller.name, idempotency_key=idempotency_key)
    if submission.replayed:
        response.headers[REPLAYED] = "true"
        if not submission.tasks:  # the task it made was deleted since
            raise Refusal("the task this Idempotency-Key made has been deleted", kind=ErrorKind.NOT_FOUND)
    return LegacyTaskOut.of(submission.tasks[0]).to_json()


@router.get("/")
@router.get("", include_in_schema=False)
@inject
async def get(task_id: UUID, get: FromDishka[GetTask]) -> dict[str, Any]:
    return LegacyTaskOut.of(await get(task_id)).to_json()


@router.post("/cancel")
@inject
async def cancel(task_id: UUID, cancel: FromDishka[CancelTask]) -> dict[str, Any]:
    return LegacyTaskOut.of(await cancel(task_id)).to_json()


@router.put("/update_text")
@inject
async def update_text(
    task_id: UUID, new_text: str, correct: FromDishka[CorrectTranscript], caller: Caller
) -> dict[str, Any]:
    """The whole text replaced, as a new revision: the earlier ones, the models' reading first, stay."""
    result = await correct(task_id, [ReplaceText(new_text)], expected_revision=None, author=caller.name)
    return LegacyTaskOut.of(result.task).to_json()


@router.get("/image", response_class=Response, response_model=None)
@inject
async def image(task_id: UUID, get: FromDishka[GetTask], storage: FromDishka[ObjectStorage]) -> Response:
    task = await get(task_id)
    stored = await storage.get(task.image.key)
    return Response(stored.data, media_type=task.image.content_type)
