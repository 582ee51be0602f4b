"""``GET /api/recognition/search``: cards by the words on them, best first, with the line to look at."""

from __future__ import annotations

import html
from typing import Annotated
from uuid import UUID

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from kartoteka.application.recognition.search_transcripts import MatchedLine, SearchHit, SearchTranscripts
from kartoteka.presentation.http.schemas import ErrorOut

router = APIRouter(prefix="/api/recognition", tags=["search"])

ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorOut} for code in (422, 503)}


class HighlightOut(BaseModel):
    start: int = Field(description="Offset of the word in `text`, in code points (stress marks count).")
    end: int
    term: str = Field(description="The query word it matched, in search form.")
    match: str = Field(description="exact, prefix or typo.")


class LineOut(BaseModel):
    index: int = Field(description="The line's index in the transcript, from 0.")
    text: str
    box: list[float] | None = Field(description="[x1, y1, x2, y2] on the card, in its pixels.")
    highlights: list[HighlightOut]
    marked: str = Field(description="`text`, HTML-escaped, with each matched word in <mark>…</mark>.")

    @classmethod
    def of(cls, line: MatchedLine) -> LineOut:
        return cls(
            index=line.index,
            text=line.text,
            box=list(line.box.as_tuple()) if line.box is not None else None,
            highlights=[HighlightOut(start=h.start, end=h.end, term=h.term, match=h.match) for h in line.highlights],
            marked=_marked(line),
        )


def _marked(line: MatchedLine) -> str:
    parts, at = [], 0
    for h in line.highlights:
        parts += [html.escape(line.text[at : h.start]), "<mark>", html.escape(line.text[h.start : h.end]), "</mark>"]
        at = h.end
    parts.append(html.escape(line.text[at:]))
    return "".join(parts)


class HitOut(BaseModel):
    task_id: UUID
    batch_id: UUID | None
    filename: str
    revision: int = Field(description="The (latest) revision the text was found in.")
    score: float
    match: str = Field(description="phrase (the words side by side), exact (every word as typed) or approximate.")
    line: LineOut | None = Field(description="The line that best matches the query.")
    lines: list[LineOut] = Field(description="Every line with a matched word, top to bottom.")
    task_url: str
    image_url: str

    @classmethod
    def of(cls, hit: SearchHit) -> HitOut:
        return cls(
            task_id=hit.task_id,
            batch_id=hit.batch_id,
            filename=hit.filename,
            revision=hit.revision,
            score=hit.score,
            match=hit.match,
            line=LineOut.of(hit.line) if hit.line is not None else None,
            lines=[LineOut.of(line) for line in hit.lines],
            task_url=f"/api/recognition/tasks/{hit.task_id}",
            image_url=f"/api/recognition/tasks/{hit.task_id}/image",
        )


class SearchOut(BaseModel):
    query: str
    terms: list[str] = Field(description="The query's words in search form (lower case, no stress marks, ё as е).")
    typos: dict[str, list[str]] = Field(description="Words of the archive taken as misspellings of query words.")
    items: list[HitOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")


@router.get("/search", response_model=SearchOut, responses=ERRORS)
@inject
async def search(
    search: FromDishka[SearchTranscripts],
    q: Annotated[
        str, Query(min_length=1, max_length=500, description="Words to find; case and stress marks do not matter.")
    ],
    batch: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchOut:
    """Cards whose latest transcript holds every word: phrase matches first, then exact, then approximate."""
    results = await search(q, limit=limit, offset=offset, batch_id=batch)
    return SearchOut(
        query=q,
        terms=list(results.terms),
        typos={term: list(words) for term, words in results.typos.items()},
        items=[HitOut.of(h) for h in results.hits],
        next_offset=offset + len(results.hits) if results.has_more else None,
    )
