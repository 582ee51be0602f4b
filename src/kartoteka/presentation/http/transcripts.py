"""``/api/recognition/tasks/{id}/transcript`` and ``/export``: read, correct, list revisions, export.

Corrections are ``PATCH`` requests carrying a list of edits, applied in order
as one new revision. ``If-Match`` must name the revision the edits were made
against (the ``ETag`` of the transcript); a stale one is answered 412 with the
current revision and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, Body, Header, Query, Response
from pydantic import BaseModel, Field

from kartoteka.application.recognition.corrections import (
    Correction,
    CorrectTranscript,
    GetTranscript,
    ListRevisions,
    RestoreRevision,
)
from kartoteka.application.recognition.exports import ExportTranscript
from kartoteka.domain.recognition.corrections import (
    DeleteWord,
    EditLine,
    EditWord,
    JoinWords,
    ReplaceText,
    SetBox,
    SplitWord,
)
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.revisions import TranscriptRevision
from kartoteka.domain.recognition.task import RecognitionTask
from kartoteka.presentation.http.auth import Caller
from kartoteka.presentation.http.conditional import content_disposition, etag, expected_revision
from kartoteka.presentation.http.schemas import FORMAT_ENUM, ErrorOut

router = APIRouter(prefix="/api/recognition/tasks", tags=["transcripts"])

ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorOut} for code in (400, 404, 409, 412, 422, 428, 503)}

Index = Annotated[int, Field(ge=0, description="Counting from 0, as in the transcript's JSON.")]
Coordinate = Annotated[float, Field(allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=10_000)]


class EditWordIn(BaseModel):
    """Retype one word (several words split its box by length)."""

    op: Literal["edit_word"]
    line: Index
    word: Index
    text: Text

    def edit(self) -> Correction:
        return EditWord(self.line, self.word, self.text)


class EditLineIn(BaseModel):
    """Retype a line; words that stayed keep their boxes."""

    op: Literal["edit_line"]
    line: Index
    text: Text

    def edit(self) -> Correction:
        return EditLine(self.line, self.text)


class SplitWordIn(BaseModel):
    """One word read as several; ``at`` gives the x coordinates of the cuts (default: by letter count)."""

    op: Literal["split_word"]
    line: Index
    word: Index
    texts: list[Text] = Field(min_length=2, max_length=50)
    at: list[Coordinate] | None = Field(None, max_length=49)

    def edit(self) -> Correction:
        return SplitWord(self.line, self.word, tuple(self.texts), tuple(self.at) if self.at is not None else None)


class JoinWordsIn(BaseModel):
    """``count`` neighbouring words from ``word`` on become one (text run together unless ``text`` is given)."""

    op: Literal["join_words"]
    line: Index
    word: Index
    count: int = Field(2, ge=2, le=100)
    text: Text | None = None

    def edit(self) -> Correction:
        return JoinWords(self.line, self.word, self.count, self.text)


class SetBoxIn(BaseModel):
    """Redraw a word's box: ``[x1, y1, x2, y2]`` in card pixels."""

    op: Literal["set_box"]
    line: Index
    word: Index
    box: tuple[Coordinate, Coordinate, Coordinate, Coordinate]

    def edit(self) -> Correction:
        return SetBox(self.line, self.word, Box.from_corners(*self.box))


class DeleteWordIn(BaseModel):
    op: Literal["delete_word"]
    line: Index
    word: Index

    def edit(self) -> Correction:
        return DeleteWord(self.line, self.word)


class ReplaceTextIn(BaseModel):
    """The whole text, lines by newlines; boxes are kept where the words stayed."""

    op: Literal["replace_text"]
    text: Annotated[str, Field(max_length=200_000)]

    def edit(self) -> Correction:
        return ReplaceText(self.text)


class RestoreIn(BaseModel):
    """An earlier revision's transcript, brought back as the newest."""

    op: Literal["restore"]
    revision: Annotated[int, Field(ge=0)]

    def edit(self) -> Correction:
        return RestoreRevision(self.revision)


EditIn = Annotated[
    EditWordIn | EditLineIn | SplitWordIn | JoinWordsIn | SetBoxIn | DeleteWordIn | ReplaceTextIn | RestoreIn,
    Field(discriminator="op"),
]


class CorrectionIn(BaseModel):
    edits: list[EditIn] = Field(min_length=1, max_length=500, description="Applied in order, as one revision.")


class RevisionOut(BaseModel):
    revision: int
    kind: str = Field(description="machine (what the models read) or correction.")
    author: str | None
    attempt: int
    created_at: datetime
    operations: list[dict[str, Any]]
    text: str


class TranscriptOut(RevisionOut):
    task_id: UUID
    latest_revision: int
    transcript: dict[str, Any]


class RevisionListOut(BaseModel):
    task_id: UUID
    latest_revision: int | None
    revisions: list[RevisionOut]


def _revision(revision: TranscriptRevision) -> dict[str, Any]:
    return {
        "revision": revision.number,
        "kind": revision.kind.value,
        "author": revision.author,
        "attempt": revision.attempt,
        "created_at": revision.created_at,
        "operations": list(revision.operations),
        "text": revision.transcript.text,
    }


def _transcript(task: RecognitionTask, revision: TranscriptRevision, response: Response) -> TranscriptOut:
    response.headers["ETag"] = etag(revision.number)
    response.headers["Cache-Control"] = "no-cache"
    return TranscriptOut(
        **_revision(revision),
        task_id=task.id,
        latest_revision=task.revision if task.revision is not None else revision.number,
        transcript=revision.transcript.to_dict(),
    )


@router.get("/{task_id}/transcript", response_model=TranscriptOut, responses=ERRORS)
@inject
async def get_transcript(
    task_id: UUID,
    response: Response,
    get: FromDishka[GetTranscript],
    revision: Annotated[int | None, Query(ge=0, description="A past revision; the latest by default.")] = None,
) -> TranscriptOut:
    """The latest revision (or the one asked for), with its number as the ETag."""
    task, chosen = await get(task_id, revision)
    return _transcript(task, chosen, response)


@router.patch("/{task_id}/transcript", response_model=TranscriptOut, responses=ERRORS)
@inject
async def correct_transcript(
    task_id: UUID,
    body: Annotated[CorrectionIn, Body()],
    response: Response,
    correct: FromDishka[CorrectTranscript],
    caller: Caller,
    if_match: Annotated[str | None, Header(description='The revision edited, e.g. "3".')] = None,
) -> TranscriptOut:
    """Apply the edits as one new revision; 412 with the current revision if someone else was first."""
    expected = expected_revision(if_match)
    result = await correct(task_id, [e.edit() for e in body.edits], expected_revision=expected, author=caller.name)
    return _transcript(result.task, result.revision, response)


@router.get("/{task_id}/transcript/revisions", response_model=RevisionListOut, responses=ERRORS)
@inject
async def list_revisions(task_id: UUID, list_: FromDishka[ListRevisions]) -> RevisionListOut:
    """Oldest first: revision 0 is what the models read, then every correction and re-run."""
    task, revisions = await list_(task_id)
    return RevisionListOut(
        task_id=task.id,
        latest_revision=task.revision,
        revisions=[RevisionOut(**_revision(r)) for r in revisions],
    )


@router.get("/{task_id}/export", response_class=Response, response_model=None, responses=ERRORS)
@inject
async def export_task(
    task_id: UUID,
    export: FromDishka[ExportTranscript],
    format: Annotated[
        str, Query(description="txt, json, page (PAGE XML 2019) or alto (ALTO 4).", json_schema_extra=FORMAT_ENUM)
    ] = "txt",
    revision: Annotated[int | None, Query(ge=0, description="A past revision; the latest by default.")] = None,
) -> Response:
    """The card's transcript as a file to download."""
    exported = await export(task_id, format, revision)
    return Response(
        exported.content,
        media_type=exported.media_type,
        headers={"Content-Disposition": content_disposition(exported.filename)},
    )
