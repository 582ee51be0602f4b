"""``/api/recognition/tasks``: submit, list, read, cancel, retry, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, File, Form, Header, Query, Response, UploadFile, status
from pydantic import BeforeValidator

from kartoteka.application.recognition.manage_tasks import CancelTask, DeleteTask, GetTask, RetryTask
from kartoteka.application.recognition.ports.task_reader import TaskFilter, TaskReader
from kartoteka.application.recognition.submit_cards import SubmitCards, UploadLimits
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.domain.errors import Refusal
from kartoteka.domain.recognition.task import TaskStatus
from kartoteka.presentation.http.auth import Caller
from kartoteka.presentation.http.conditional import etag
from kartoteka.presentation.http.schemas import BatchOut, ErrorOut, SubmissionOut, TaskListOut, TaskOut
from kartoteka.presentation.http.uploads import read_uploads

router = APIRouter(prefix="/api/recognition", tags=["recognition"])

ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorOut} for code in (400, 404, 409, 413, 415, 422, 503)}


IDEMPOTENCY = (
    "Any unique string (a UUID): a retry of the request with the same key and the same files creates "
    "nothing and gets the first answer again (with `Idempotent-Replayed: true`); the same key with other "
    "files is a 422."
)
REPLAYED = "Idempotent-Replayed"


def _not_a_number(value: Any) -> Any:
    """Pydantic reads a bare number (``0.5``, ``1700000000``) as seconds since 1970; the schema says an
    ISO 8601 date-time, and a number there is far more likely a mistake than a timestamp."""
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("must be an ISO 8601 date-time, like 2024-05-01T00:00:00Z, not a number")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# A moment as ISO 8601 only; refused with the other field errors of the request (a 422).
Moment = Annotated[datetime, BeforeValidator(_not_a_number)]


def in_utc(field: str, value: datetime | None) -> datetime | None:
    """The moment in UTC, as the database compares it (naive is UTC); one outside years 1 to 9999 there
    (``0001-01-01T00:00+01:00``, ``9999-12-31T23:59-01:00``) is no date the database can take: a 422."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise Refusal(f"{field} is outside the years 1 to 9999 in UTC", {"field": field}) from None


@router.post("/tasks", status_code=status.HTTP_202_ACCEPTED, response_model=SubmissionOut, responses=ERRORS)
@inject
async def submit_tasks(
    images: Annotated[
        list[UploadFile],
        File(description="Card scans (JPEG, PNG, TIFF, WebP); a PDF or multi-page TIFF gives one card per page."),
    ],
    submit: FromDishka[SubmitCards],
    limits: FromDishka[UploadLimits],
    caller: Caller,
    response: Response,
    batch_label: Annotated[str | None, Form(max_length=500)] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY)] = None,
) -> SubmissionOut:
    """Queue every card for recognition; a bad file or page refuses the whole request and nothing is stored."""
    uploads = await read_uploads(images, limits)
    submission = await submit(uploads, batch_label, submitted_by=caller.name, idempotency_key=idempotency_key)
    if submission.replayed:
        response.headers[REPLAYED] = "true"
    return SubmissionOut(
        batch=BatchOut.of(submission.batch) if submission.batch else None,
        tasks=[TaskOut.of(t) for t in submission.tasks],
    )


@router.get("/tasks", response_model=TaskListOut, responses=ERRORS)
@inject
async def list_tasks(
    reader: FromDishka[TaskReader],
    status_: Annotated[list[TaskStatus] | None, Query(alias="status")] = None,
    batch: UUID | None = None,
    created_from: Moment | None = None,
    created_to: Moment | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TaskListOut:
    """Newest first, a page at a time; ``counts`` gives tasks per status under the other filters."""
    where = TaskFilter(
        statuses=frozenset(status_ or ()),
        batch_id=batch,
        created_from=in_utc("created_from", created_from),
        created_to=in_utc("created_to", created_to),
    )
    page = await reader.page(where, cursor, limit)
    return TaskListOut(items=[TaskOut.of(t) for t in page.tasks], next_cursor=page.next_cursor, counts=page.counts)


@router.get("/tasks/{task_id}", response_model=TaskOut, responses=ERRORS)
@inject
async def get_task(task_id: UUID, response: Response, get: FromDishka[GetTask]) -> TaskOut:
    """The task; once it has a transcript, its ETag is the transcript's revision (for If-Match on corrections)."""
    task = await get(task_id)
    if task.revision is not None:
        response.headers["ETag"] = etag(task.revision)
        response.headers["Cache-Control"] = "no-cache"
    return TaskOut.of(task)


@router.get("/tasks/{task_id}/image", responses=ERRORS, response_class=Response, response_model=None)
@inject
async def get_task_image(task_id: UUID, get: FromDishka[GetTask], storage: FromDishka[ObjectStorage]) -> Response:
    """The scan exactly as uploaded."""
    task = await get(task_id)
    stored = await storage.get(task.image.key)
    return Response(stored.data, media_type=task.image.content_type, headers={"Cache-Control": "private, max-age=3600"})


@router.post("/tasks/{task_id}/cancel", response_model=TaskOut, responses=ERRORS)
@inject
async def cancel_task(task_id: UUID, cancel: FromDishka[CancelTask]) -> TaskOut:
    """Queued: cancelled now. Running: ``cancelling`` until the worker stops between batches."""
    return TaskOut.of(await cancel(task_id))


@router.post("/tasks/{task_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=TaskOut, responses=ERRORS)
@inject
async def retry_task(task_id: UUID, retry: FromDishka[RetryTask]) -> TaskOut:
    """Run a task again, as a new attempt with the current models.

    A failed, cancelled or completed task; or a stuck one: queued (its job may be lost), or running or
    cancelling with no live worker (its lease lapsed). 409 while a worker holds the task's lease: it is
    being read now (``detail.lease_until`` says until when at least); cancel it first to run it afresh.
    """
    return TaskOut.of(await retry(task_id))


@router.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT, response_model=None, responses=ERRORS)
@inject
async def delete_task(task_id: UUID, delete: FromDishka[DeleteTask]) -> Response:
    await delete(task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
