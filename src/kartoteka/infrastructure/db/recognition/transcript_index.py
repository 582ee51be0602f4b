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

from kartoteka.application.recognition.ports.transcript_index import IndexedLine, IndexHit, IndexQuery
from kartoteka.domain.recognition.search_forms import search_words
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.infrastructure.db.connection import connected
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


def lexicon_rows(words: Iterable[str]) -> list[dict[str, str]]:
    """Sorted, so concurrent writers take the lexicon's row locks in one order and never deadlock."""
    return [{"word": w, "trigrams": trigram_key(w)} for w in sorted(set(words))]


async def index_transcript(
    conn: AsyncConnection, task_id: UUID, revision: int, transcript: Transcript, now: datetime
) -> None:
    """Make ``transcript`` the searchable text of the card (called in the revision's own transaction)."""
    body = search_body(transcript)
    upsert = insert(transcript_search).values(task_id=task_id, revision=revision, body=body, updated_at=now)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[transcript_search.c.task_id],
            set_={k: upsert.excluded[k] for k in ("revision", "body", "updated_at")},
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


# Ranking reads every matching card, so it works on the narrow search rows alone; only the page it
# returns is joined to the tasks for names and transcripts. ``phrase`` and ``exact`` are not evaluated
# when they cannot differ from what is already known (one word; a query without prefixes or typos).
_RANKED = f"""
    WITH q AS (
        SELECT to_tsquery('{SEARCH_CONFIG}', :loose) AS loose,
               to_tsquery('{SEARCH_CONFIG}', :exact) AS exact,
               to_tsquery('{SEARCH_CONFIG}', :phrase) AS phrase
    ),
    ranked AS (
        SELECT s.task_id, s.revision,
               ts_rank(s.document, q.loose, 1) AS score,
               CASE WHEN :multi THEN s.document @@ q.phrase ELSE false END AS phrase,
               CASE WHEN :loose_is_exact THEN true ELSE s.document @@ q.exact END AS exact
        FROM q, transcript_search AS s
        WHERE s.document @@ q.loose {{batch}}
        ORDER BY phrase DESC, exact DESC, score DESC, s.task_id
        LIMIT :limit OFFSET :offset
    )
    SELECT r.task_id, r.revision, r.score, r.phrase, r.exact, t.batch_id, t.filename, t.transcript
    FROM ranked AS r JOIN recognition_tasks AS t ON t.id = r.task_id
    ORDER BY r.phrase DESC, r.exact DESC, r.score DESC, r.task_id
"""
_SEARCH_ALL = text(_RANKED.format(batch=""))
_SEARCH_BATCH = text(
    _RANKED.format(batch="AND s.task_id IN (SELECT id FROM recognition_tasks WHERE batch_id = :batch)")
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


def _lines(transcript: dict[str, Any] | None) -> tuple[IndexedLine, ...]:
    """The lines as written, with their boxes: the task's transcript is the indexed revision's."""
    if transcript is None:
        return ()
    return tuple(IndexedLine(line.text, line.box) for line in Transcript.from_dict(transcript).lines)


class SqlTranscriptIndex:
    """TranscriptIndex over ``transcript_search`` and ``search_words``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def similar_words(self, terms: Sequence[str], per_term: int) -> dict[str, list[str]]:
        if not terms:
            return {}
        found: dict[str, list[str]] = {t: [] for t in terms}
        async with connected(self._engine, begin=True) as conn:
            await conn.execute(_THRESHOLD, {"value": str(TRIGRAM_THRESHOLD)})
            rows = await conn.execute(
                _SIMILAR, {"terms": list(terms), "keys": [trigram_key(t) for t in terms], "per_term": per_term}
            )
            for term, word in rows:
                found[term].append(word)
        return found

    async def search(self, query: IndexQuery, limit: int, offset: int) -> list[IndexHit]:
        loose, exact, phrase = tsqueries(query)
        params: dict[str, Any] = {
            "loose": loose,
            "exact": exact,
            "phrase": phrase,
            "multi": len(set(query.terms)) > 1,
            "loose_is_exact": not any(t in query.prefixes or query.alternatives.get(t) for t in query.terms),
            "limit": limit,
            "offset": offset,
        }
        statement = _SEARCH_ALL
        if query.batch_id is not None:
            statement, params["batch"] = _SEARCH_BATCH, query.batch_id
        async with connected(self._engine) as conn:
            rows = list(await conn.execute(statement, params))
        return [
            IndexHit(
                task_id=row.task_id,
                batch_id=row.batch_id,
                filename=row.filename,
                revision=row.revision,
                score=float(row.score),
                phrase=bool(row.phrase),
                exact=bool(row.exact),
                lines=_lines(row.transcript),
            )
            for row in rows
        ]
