"""Full-text search over the latest transcripts: PostgreSQL text search plus pg_trgm for typos.

Each card's latest revision is stored in search forms (``transcript_search.body``,
folded in Python by ``domain.recognition.search``, so the database needs no
``unaccent`` and treats stress marks exactly as the highlighter does) with a
generated ``tsvector`` under a GIN index. The ``simple`` configuration is used:
dialect words are not Russian the snowball stemmer knows, and a stemmer would
merge forms a dialectologist keeps apart; prefixes and typo alternatives
cover inflection from the query side instead.

Typos are found in a lexicon of every indexed word form through pg_trgm. Its
trigrams count only letters the *database's* ctype calls alphanumeric, and the
embedded server (and any cluster created with ``C``/``C.UTF-8`` ctype) calls no
Cyrillic letter that, so Cyrillic words would have no trigrams at all. The
lexicon therefore keeps an ASCII key per word — one ASCII character per letter
— for pg_trgm to work on, whatever the cluster's locale. Keys of different
words may coincide (Cyrillic and Latin letters share the ASCII range); they
only propose candidates, which the use case checks on the real words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import Text

from kartoteka.application.ports.search import IndexedLine, IndexHit, IndexQuery
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.search import search_words
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.infrastructure.db.schema import SEARCH_CONFIG, transcript_search
from kartoteka.infrastructure.db.schema import search_words as lexicon

TRIGRAM_THRESHOLD = 0.2  # loose on purpose: candidates are checked by edit distance afterwards

_CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
_ASCII_FOR = dict(zip(_CYRILLIC, "abcdefghijklmnopqrstuvwxyz012345", strict=True))


def trigram_key(word: str) -> str:
    """A search form spelled in ASCII letters and digits, one character per letter, for pg_trgm."""
    return "".join(_ASCII_FOR.get(ch) or (ch if ch.isascii() and ch.isalnum() else "9") for ch in word)


def search_body(transcript: Transcript) -> str:
    return "\n".join(" ".join(search_words(line.text)) for line in transcript.lines)


def search_lines(transcript: Transcript) -> list[dict[str, Any]]:
    return [
        {"text": line.text, "box": list(line.box.as_tuple()) if line.box is not None else None}
        for line in transcript.lines
    ]


def lexicon_rows(words: Iterable[str]) -> list[dict[str, str]]:
    """Sorted, so concurrent writers take the lexicon's row locks in one order and never deadlock."""
    return [{"word": w, "trigrams": trigram_key(w)} for w in sorted(set(words))]


async def index_transcript(
    conn: AsyncConnection, task_id: UUID, revision: int, transcript: Transcript, now: datetime
) -> None:
    """Make ``transcript`` the searchable text of the card (called in the revision's own transaction)."""
    body = search_body(transcript)
    row = {"task_id": task_id, "revision": revision, "body": body, "lines": search_lines(transcript), "updated_at": now}
    upsert = insert(transcript_search).values(**row)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[transcript_search.c.task_id],
            set_={k: upsert.excluded[k] for k in ("revision", "body", "lines", "updated_at")},
        )
    )
    words = lexicon_rows(body.split())
    if words:
        await conn.execute(insert(lexicon).on_conflict_do_nothing(index_elements=[lexicon.c.word]), words)


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _alternatives(query: IndexQuery, term: str) -> str:
    options = [_lexeme(term)]
    if term in query.prefixes:
        options.append(_lexeme(term) + ":*")
    options += [_lexeme(w) for w in query.alternatives.get(term, ())]
    return "(" + " | ".join(options) + ")"


def tsqueries(query: IndexQuery) -> tuple[str, str, str]:
    """(any form of every term, every term exactly, the terms as a phrase), in to_tsquery syntax."""
    distinct = list(dict.fromkeys(query.terms))
    loose = " & ".join(_alternatives(query, t) for t in distinct)
    exact = " & ".join(_lexeme(t) for t in distinct)
    phrase = " <-> ".join(_lexeme(t) for t in query.terms)
    return loose, exact, phrase


_SEARCH = text(
    f"""
    WITH q AS (
        SELECT to_tsquery('{SEARCH_CONFIG}', :loose) AS loose,
               to_tsquery('{SEARCH_CONFIG}', :exact) AS exact,
               to_tsquery('{SEARCH_CONFIG}', :phrase) AS phrase
    )
    SELECT s.task_id, t.batch_id, t.filename, s.revision, s.lines,
           ts_rank(s.document, q.loose, 1) AS score,
           (:multi AND s.document @@ q.phrase) AS phrase,
           (s.document @@ q.exact) AS exact
    FROM q, transcript_search AS s
    JOIN recognition_tasks AS t ON t.id = s.task_id
    WHERE s.document @@ q.loose AND (CAST(:batch AS uuid) IS NULL OR t.batch_id = CAST(:batch AS uuid))
    ORDER BY phrase DESC, exact DESC, score DESC, s.task_id
    LIMIT :limit OFFSET :offset
    """
)

_THRESHOLD = text("SELECT set_config('pg_trgm.similarity_threshold', :value, true)")  # this transaction only
_SIMILAR = text(
    """
    SELECT t.term, w.word
    FROM unnest(:terms, :keys) AS t(term, key)
    CROSS JOIN LATERAL (
        SELECT word FROM search_words
        WHERE trigrams % t.key
        ORDER BY similarity(trigrams, t.key) DESC, word
        LIMIT :per_term
    ) AS w
    """
).bindparams(bindparam("terms", type_=ARRAY(Text)), bindparam("keys", type_=ARRAY(Text)))


def _box(value: Any) -> Box | None:
    if not value:
        return None
    return Box(*(float(v) for v in value))


class SqlTranscriptIndex:
    """TranscriptIndex over ``transcript_search`` and ``search_words``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def similar_words(self, terms: Sequence[str], per_term: int) -> dict[str, list[str]]:
        if not terms:
            return {}
        found: dict[str, list[str]] = {t: [] for t in terms}
        async with self._engine.begin() as conn:
            await conn.execute(_THRESHOLD, {"value": str(TRIGRAM_THRESHOLD)})
            rows = await conn.execute(
                _SIMILAR, {"terms": list(terms), "keys": [trigram_key(t) for t in terms], "per_term": per_term}
            )
            for term, word in rows:
                found[term].append(word)
        return found

    async def search(self, query: IndexQuery, limit: int, offset: int) -> list[IndexHit]:
        loose, exact, phrase = tsqueries(query)
        params = {
            "loose": loose,
            "exact": exact,
            "phrase": phrase,
            "multi": len(query.terms) > 1,
            "batch": query.batch_id,
            "limit": limit,
            "offset": offset,
        }
        async with self._engine.connect() as conn:
            rows = await conn.execute(_SEARCH, params)
            return [
                IndexHit(
                    task_id=row.task_id,
                    batch_id=row.batch_id,
                    filename=row.filename,
                    revision=row.revision,
                    score=float(row.score),
                    phrase=bool(row.phrase),
                    exact=bool(row.exact),
                    lines=tuple(IndexedLine(str(line["text"]), _box(line.get("box"))) for line in row.lines),
                )
                for row in rows
            ]
