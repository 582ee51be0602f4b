"""``/api/recognition/batches``: the list of submissions; ``/{id}``: one's cards as one: counts, cancel, retry
failures, delete, export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from kartoteka.application.recognition.batches import (
    BatchChange,
    CancelBatch,
    DeleteBatch,
    GetBatch,
    ListBatches,
    RetryFailedCards,
)
from kartoteka.application.recognition.exports import ExportBatch
from kartoteka.application.recognition.ports.batch_reader import BatchListing
from kartoteka.domain.recognition.task import TaskStatus
from kartoteka.presentation.http.conditional import content_disposition
from kartoteka.presentation.http.schemas import FORMAT_ENUM, ErrorOut, TaskOut

router = APIRouter(prefix="/api/recognition/batches", tags=["batches"])

ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorOut} for code in (404, 409, 422, 503)}


class BatchSummaryOut(BaseModel):
    id: UUID
    label: str | None
    created_at: datetime
    counts: dict[TaskStatus, int] = Field(description="Cards per status.")
    tasks_url: str


class BatchListItemOut(BaseModel):
    id: UUID
    label: str | None
    created_at: datetime
    counts: dict[TaskStatus, int] = Field(description="Cards per status, every status listed.")
    total: int = Field(description="Cards in the batch.")
    batch_url: str

    @classmethod
    def of(cls, listing: BatchListing) -> BatchListItemOut:
        batch = listing.batch
        return cls(
            id=batch.id,
            label=batch.label,
            created_at=batch.created_at,
            counts=listing.counts,
            total=listing.total,
            batch_url=f"/api/recognition/batches/{batch.id}",
        )


class BatchListOut(BaseModel):
    items: list[BatchListItemOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class BatchChangeOut(BaseModel):
    batch_id: UUID
    changed: list[TaskOut] = Field(description="Cards the operation applied to, as they are now.")
    unchanged: list[UUID] = Field(description="Cards it did not apply to (already finished, not failed, …).")

    @classmethod
    def of(cls, change: BatchChange) -> BatchChangeOut:
        return cls(
            batch_id=change.batch.id,
            changed=[TaskOut.of(t) for t in change.changed],
            unchanged=[t.id for t in change.unchanged],
        )


@router.get("", response_model=BatchListOut, responses={code: {"model": ErrorOut} for code in (400, 422, 503)})
@inject
async def list_batches(
    list_: FromDishka[ListBatches],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> BatchListOut:
    """Newest first, a page at a time, each batch with its cards counted by status."""
    page = await list_(cursor, limit)
    return BatchListOut(items=[BatchListItemOut.of(b) for b in page.batches], next_cursor=page.next_cursor)


@router.get("/{batch_id}", response_model=BatchSummaryOut, responses=ERRORS)
@inject
async def get_batch(batch_id: UUID, get: FromDishka[GetBatch]) -> BatchSummaryOut:
    summary = await get(batch_id)
    return BatchSummaryOut(
        id=summary.batch.id,
        label=summary.batch.label,
        created_at=summary.batch.created_at,
        counts=summary.counts,
        tasks_url=f"/api/recognition/tasks?batch={summary.batch.id}",
    )


@router.post("/{batch_id}/cancel", response_model=BatchChangeOut, responses=ERRORS)
@inject
async def cancel_batch(batch_id: UUID, cancel: FromDishka[CancelBatch]) -> BatchChangeOut:
    """Queued cards are cancelled now, running ones stop between batches; finished cards are left alone."""
    return BatchChangeOut.of(await cancel(batch_id))


@router.post("/{batch_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=BatchChangeOut, responses=ERRORS)
@inject
async def retry_batch(batch_id: UUID, retry: FromDishka[RetryFailedCards]) -> BatchChangeOut:
    """Every failed card runs again, as a new attempt; the others are not touched."""
    return BatchChangeOut.of(await retry(batch_id))


@router.delete("/{batch_id}", status_code=status.HTTP_204_NO_CONTENT, response_model=None, responses=ERRORS)
@inject
async def delete_batch(batch_id: UUID, delete: FromDishka[DeleteBatch]) -> Response:
    """The batch, its cards, their transcripts and scans; running jobs are told to stop."""
    await delete(batch_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{batch_id}/export", response_class=StreamingResponse, response_model=None, responses=ERRORS)
@inject
async def export_batch(
    batch_id: UUID,
    export: FromDishka[ExportBatch],
    format: Annotated[
        str,
        Query(description="txt, json, page or alto: the format of every card's file.", json_schema_extra=FORMAT_ENUM),
    ] = "txt",
) -> StreamingResponse:
    """A zip with one file per card (latest revisions) and manifest.json; cards without a transcript are listed."""
    bundle = await export(batch_id, format)
    return StreamingResponse(
        bundle.chunks,  # rendered card by card in a worker thread while the response is sent
        media_type=bundle.media_type,
        headers={"Content-Disposition": content_disposition(bundle.filename)},
    )
