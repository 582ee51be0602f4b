"""The JSON shapes of the recognition API (and of the ``/task/*`` routes kept for old clients)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from kartoteka.application.recognition.ports.tasks import Batch
from kartoteka.domain.recognition.task import RecognitionTask, TaskStatus

# The export formats Kartoteka writes (the exporters the container wires; a test holds the two together),
# for the schema: the route looks the name up itself, case-insensitively, and refuses others with the list.
EXPORT_FORMATS = ("txt", "json", "page", "alto")
FORMAT_ENUM: dict[str, Any] = {"enum": list(EXPORT_FORMATS)}


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong, for people.")
    detail: Any = Field(None, description="Machine-readable particulars (field errors, the file, the status).")


class ProgressOut(BaseModel):
    stage: str
    done: int
    total: int


class SourcePageOut(BaseModel):
    filename: str = Field(description="The uploaded PDF or multi-page TIFF.")
    page: int = Field(description="Which of its pages this card is, from 1.")
    page_count: int


class TaskOut(BaseModel):
    id: UUID
    status: TaskStatus
    attempt: int
    batch_id: UUID | None
    batch_position: int | None = Field(description="Order in the batch as submitted (pages in page order), from 0.")
    filename: str
    source: SourcePageOut | None = Field(description="The document and page the card was cut from, if any.")
    content_type: str
    size: int
    width: int
    height: int
    progress: ProgressOut
    text: str | None = Field(description="Plain transcript: words by spaces, lines by newlines.")
    transcript: dict[str, Any] | None = Field(description="Lines → words with boxes and confidences.")
    revision: int | None = Field(
        description="The transcript's latest revision (0 is the models' reading); send it as If-Match to correct."
    )
    models: list[dict[str, str]]
    error: str | None
    runs: int = Field(
        0, description="Runs of this attempt's job so far; a retry after a transient failure is one more."
    )
    retry_at: datetime | None = Field(
        None, description="While queued after a transient failure: when its job is sent again (error says why)."
    )
    lease_until: datetime | None = Field(
        None, description="While running: until when its worker holds it (renewed while the worker lives)."
    )
    submitted_by: str | None = Field(description="Who uploaded the card: an email, a token name, or the open name.")
    created_at: datetime
    updated_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    image_url: str
    transcript_url: str

    @classmethod
    def of(cls, task: RecognitionTask) -> TaskOut:
        transcript = task.transcript.to_dict() if task.transcript is not None else None
        return cls(
            id=task.id,
            status=task.status,
            attempt=task.attempt,
            batch_id=task.batch_id,
            batch_position=task.batch_position,
            filename=task.image.filename,
            source=(
                SourcePageOut(
                    filename=task.image.source.filename,
                    page=task.image.source.number,
                    page_count=task.image.source.count,
                )
                if task.image.source is not None
                else None
            ),
            content_type=task.image.content_type,
            size=task.image.size,
            width=task.image.width,
            height=task.image.height,
            progress=ProgressOut(stage=task.progress.stage, done=task.progress.done, total=task.progress.total),
            text=task.transcript.text if task.transcript is not None else None,
            transcript=transcript,
            revision=task.revision,
            models=transcript["models"] if transcript else [],
            error=task.error,
            runs=task.runs,
            retry_at=task.retry_at,
            lease_until=task.lease_until,
            submitted_by=task.submitted_by,
            created_at=task.created_at,
            updated_at=task.updated_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
            image_url=f"/api/recognition/tasks/{task.id}/image",
            transcript_url=f"/api/recognition/tasks/{task.id}/transcript",
        )


class BatchOut(BaseModel):
    id: UUID
    label: str | None
    created_at: datetime

    @classmethod
    def of(cls, batch: Batch) -> BatchOut:
        return cls(id=batch.id, label=batch.label, created_at=batch.created_at)


class SubmissionOut(BaseModel):
    batch: BatchOut | None
    tasks: list[TaskOut]


class TaskListOut(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    counts: dict[TaskStatus, int] = Field(description="Tasks per status under the same filters except status.")


class LegacyStatus(BaseModel):
    type: Literal["created", "completed", "failed", "cancelled"]
    text: str | None = None
    error_text: str | None = None


class LegacyTaskOut(BaseModel):
    """The old ``/task/*`` clients' TaskDTO: they know four status types, so unfinished work is ``created``.

    See docs/contracts.md.
    """

    id: UUID
    status: LegacyStatus

    @classmethod
    def of(cls, task: RecognitionTask) -> LegacyTaskOut:
        if task.status is TaskStatus.COMPLETED:
            status = LegacyStatus(type="completed", text=task.transcript.text if task.transcript else "")
        elif task.status is TaskStatus.FAILED:
            status = LegacyStatus(type="failed", error_text=task.error or "")
        elif task.status is TaskStatus.CANCELLED:
            status = LegacyStatus(type="cancelled")
        else:
            status = LegacyStatus(type="created")
        return cls(id=task.id, status=status)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
