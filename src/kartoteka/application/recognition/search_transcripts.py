"""SearchTranscripts: find cards by the words on them, as a linguist types them.

A query is read the way the index stores text (see ``domain.recognition.search``):
case, stress marks and ``ё`` do not matter. Every word of the query must be on
the card, as itself, as the start of a longer word (``батюшк`` finds
``батюшка``), or — for words long enough to guess at — with a slip or two
(``батюжка`` finds ``батюшка``). Cards with the words side by side as typed rank
first, then cards with every word exactly, then the rest by relevance.

Each result names the card and the line to look at, with its box on the scan
and where in that line the words are, so a client can show the hit on the
image and mark it in the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from kartoteka.application.recognition.ports.transcript_index import IndexedLine, IndexHit, IndexQuery, TranscriptIndex
from kartoteka.domain.errors import Refusal
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.search_forms import is_near_miss, search_words, typo_budget, word_spans

MAX_QUERY_LENGTH = 500
MAX_TERMS = 12
MIN_PREFIX = 3  # shorter prefixes match half the lexicon
CANDIDATES_PER_TERM = 50
ALTERNATIVES_PER_TERM = 8


class InvalidSearchError(Refusal, ValueError):
    """The query has nothing to search for, or too much."""


@dataclass(frozen=True, slots=True)
class Highlight:
    """Where a query word is in a line: code-point offsets of the written word, and how it matched."""

    start: int
    end: int
    term: str
    match: str  # "exact", "prefix" or "typo"


@dataclass(frozen=True, slots=True)
class MatchedLine:
    index: int
    text: str
    box: Box | None
    highlights: tuple[Highlight, ...]


@dataclass(frozen=True, slots=True)
class SearchHit:
    task_id: UUID
    batch_id: UUID | None
    filename: str
    revision: int
    score: float
    match: str  # "phrase", "exact" or "approximate"
    line: MatchedLine | None
    lines: tuple[MatchedLine, ...]


@dataclass(frozen=True, slots=True)
class SearchResults:
    terms: tuple[str, ...]
    typos: dict[str, tuple[str, ...]]
    hits: tuple[SearchHit, ...]
    has_more: bool


_WEIGHT = {"exact": 1.0, "prefix": 0.7, "typo": 0.5}


class SearchTranscripts:
    def __init__(self, index: TranscriptIndex) -> None:
        self._index = index

    async def __call__(
        self, query: str, *, limit: int = 20, offset: int = 0, batch_id: UUID | None = None
    ) -> SearchResults:
        if len(query) > MAX_QUERY_LENGTH:
            raise InvalidSearchError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
        terms = tuple(search_words(query))
        if not terms:
            raise InvalidSearchError("the query has no words to search for")
        if len(set(terms)) > MAX_TERMS:
            raise InvalidSearchError(f"the query has more than {MAX_TERMS} different words")

        guessable = sorted({t for t in terms if typo_budget(t) > 0})
        candidates = await self._index.similar_words(guessable, CANDIDATES_PER_TERM) if guessable else {}
        typos = {
            term: tuple(w for w in candidates.get(term, []) if is_near_miss(term, w))[:ALTERNATIVES_PER_TERM]
            for term in guessable
        }
        typos = {term: words for term, words in typos.items() if words}
        prefixes = frozenset(t for t in terms if len(t) >= MIN_PREFIX)

        found = await self._index.search(
            IndexQuery(terms=terms, alternatives=typos, prefixes=prefixes, batch_id=batch_id), limit + 1, offset
        )
        hits = tuple(_hit(h, set(terms), prefixes, typos) for h in found[:limit])
        return SearchResults(terms=terms, typos=typos, hits=hits, has_more=len(found) > limit)


def _hit(hit: IndexHit, terms: set[str], prefixes: frozenset[str], typos: dict[str, tuple[str, ...]]) -> SearchHit:
    matched = [m for m in (_match_line(i, line, terms, prefixes, typos) for i, line in enumerate(hit.lines)) if m]
    best = max(matched, key=_line_weight, default=None)  # max keeps the first of equals: the upper line
    return SearchHit(
        task_id=hit.task_id,
        batch_id=hit.batch_id,
        filename=hit.filename,
        revision=hit.revision,
        score=hit.score,
        match="phrase" if hit.phrase else "exact" if hit.exact else "approximate",
        line=best,
        lines=tuple(matched),
    )


def _line_weight(line: MatchedLine) -> float:
    """Lines holding more of the query's words, and holding them more exactly, are the better place to look."""
    best: dict[str, float] = {}
    for h in line.highlights:
        best[h.term] = max(best.get(h.term, 0.0), _WEIGHT[h.match])
    return sum(best.values())


def _match_line(
    index: int, line: IndexedLine, terms: set[str], prefixes: frozenset[str], typos: dict[str, tuple[str, ...]]
) -> MatchedLine | None:
    highlights = []
    for span in word_spans(line.text):
        found = _classify(span.form, terms, prefixes, typos)
        if found is not None:
            highlights.append(Highlight(span.start, span.end, *found))
    if not highlights:
        return None
    return MatchedLine(index, line.text, line.box, tuple(highlights))


def _classify(
    form: str, terms: set[str], prefixes: frozenset[str], typos: dict[str, tuple[str, ...]]
) -> tuple[str, str] | None:
    if form in terms:
        return form, "exact"
    for term in sorted(prefixes):
        if form.startswith(term):
            return term, "prefix"
    for term, words in sorted(typos.items()):
        if form in words:
            return term, "typo"
    return None
