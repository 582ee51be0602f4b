"""Finding cards by the words on them: the index the search use case asks, in search forms.

The index holds, per card, the search forms of its latest transcript (kept up
to date in the same transaction as each revision) and a lexicon of every word
form it has seen. The use case decides what a query means — which words,
which near misses count as typos, how results rank — and the index answers
two questions: which known words look like these, and which cards hold them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from kartoteka.domain.recognition.geometry import Box


@dataclass(frozen=True, slots=True)
class IndexQuery:
    """Cards holding every term (as itself, as a prefix when listed in ``prefixes``, or as one of its alternatives).

    ``terms`` are search forms in the order typed; an index ranks cards holding
    them as a phrase (adjacent, in order) first, then cards holding each term
    exactly, then the rest by its own relevance score.
    """

    terms: tuple[str, ...]
    alternatives: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    prefixes: frozenset[str] = frozenset()
    batch_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class IndexedLine:
    """A line of the indexed revision as written (stress marks and all), with its box on the card."""

    text: str
    box: Box | None


@dataclass(frozen=True, slots=True)
class IndexHit:
    task_id: UUID
    batch_id: UUID | None
    filename: str
    revision: int
    score: float
    phrase: bool
    exact: bool
    lines: tuple[IndexedLine, ...]


class TranscriptIndex(Protocol):
    async def similar_words(self, terms: Sequence[str], per_term: int) -> dict[str, list[str]]:
        """Known word forms that look like each term (candidates only: the caller decides what is a typo)."""
        ...

    async def search(self, query: IndexQuery, limit: int, offset: int) -> list[IndexHit]:
        """Best first; see IndexQuery for the order."""
        ...
