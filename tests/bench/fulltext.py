"""Full-text search benchmark: latency over 100,000 synthetic dialect cards, index sizes, and an ILIKE baseline.

    python -m tests.bench.fulltext [--cards 100000] [--queries 150] [--seed 7]      (or: make bench-fulltext)

It starts the test harness's PostgreSQL (the embedded server ``kartoteka serve`` runs), migrates a fresh
database to head, and loads ``--cards`` synthetic transcripts the way the repository stores them: the
same ``search_body``/``lexicon_rows`` functions build each card's search document and
the word lexicon, loaded with COPY into tables whose indexes (GIN over the tsvector, GIN trigram over the
lexicon keys) are already there, as in a live archive. Cards look like dialect dictionary slips: a
stressed headword with its grammar, a definition, an example in «quotes» with stress marks, a place and
a year; words follow a Zipf distribution over a generated lexicon, so some are on half the cards and
most on a handful.

Queries go through ``SearchTranscripts`` over ``SqlTranscriptIndex`` (the production use case and adapter,
without HTTP), one at a time, in several kinds: rare and common words typed without stress marks, words
typed with them, one-letter typos, prefixes and two-word phrases. The baseline in the same run is what an
archive without a search index does: ``body ILIKE '%word%'`` over the same folded text (a sequential scan,
the newest 20), which cannot rank, cannot find typos and — on the original text — could not even ignore
stress marks. Recall columns say how many queries found the card they were drawn from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from kartoteka.application.recognition.search_transcripts import SearchTranscripts
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.search_forms import search_form, search_words
from kartoteka.domain.recognition.text import normalize_text
from kartoteka.domain.recognition.transcript import Transcript, TranscriptLine, TranscriptWord
from kartoteka.infrastructure.db.migrate import upgrade
from kartoteka.infrastructure.db.recognition.transcript_index import SqlTranscriptIndex, lexicon_rows, search_body

ACUTE = "\u0301"
VOWELS = "аеиоуыяюэ"
SYLLABLE_VOWELS = "аааоооеееииуяюы"
ONSETS = [*"бвгдзклмнпрстхчшжц", "бр", "гл", "др", "кр", "пл", "пр", "ст", "тр", "сл", "шт", "зв", "св"]
ENDINGS = ["шка", "нка", "ной", "ный", "ник", "ница", "ть", "ло", "ха", "ня", "ец", "к", "вой", "лый", "ще", "нье"]
FUNCTION_WORDS = [
    "в",
    "на",
    "у",
    "с",
    "по",
    "не",
    "и",
    "а",
    "что",
    "как",
    "это",
    "так",
    "он",
    "она",
    "они",
    "был",
    "была",
    "было",
    "к",
    "из",
    "за",
    "от",
    "до",
    "же",
    "ли",
    "бы",
    "то",
    "да",
]
PARTS = ["м.", "ж.", "ср.", "прил.", "нареч.", "гл.", "мн."]
PLACES = ["Пинеж.", "Мезен.", "Онеж.", "Холмог.", "Лешук.", "Карп.", "Вайм.", "Сура", "Кеврола", "Нюхча"]
# Real dialect words (the Pinega/Mezen archives' kind) mixed into the generated lexicon.
REAL = [
    "ба́тюшка",
    "ба́ско",
    "баска́я",
    "ве́дро",
    "голбе́ц",
    "дро́вни",
    "ора́ть",
    "пове́рье",
    "шаньга́",
    "ба́ня",
    "избу́шка",
    "по́вет",
    "гуме́нце",
    "ла́вка",
    "кро́сна",
    "пря́лка",
    "наво́лок",
    "ола́шек",
    "ту́ес",
    "ё́лочка",
    "ме́ньшица",
    "ба́ушка",
    "тя́тя",
    "ма́ма",
    "хорово́д",
    "посиде́лки",
    "ва́режки",
    "ко́жух",
    "лопоти́на",
    "бесё́да",
]


@dataclass
class Corpus:
    cards: list[Transcript]
    card_words: list[set[str]]  # search forms on each card
    document_frequency: Counter[str] = field(default_factory=Counter)


def stressed(word: str, rng: random.Random) -> str:
    """Put an acute after one vowel of a word of two or more syllables (as a linguist marks stress)."""
    positions = [i for i, ch in enumerate(word) if ch in VOWELS]
    if len(positions) < 2:
        return word
    at = rng.choice(positions) + 1
    return word[:at] + ACUTE + word[at:]


def make_lexicon(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        syllables = "".join(rng.choice(ONSETS) + rng.choice(SYLLABLE_VOWELS) for _ in range(rng.choice((1, 2, 2, 3))))
        words.add(syllables + (rng.choice(ENDINGS) if rng.random() < 0.7 else ""))
    lexicon = [normalize_text(w) for w in REAL] + sorted(words)
    rng.shuffle(lexicon)
    return lexicon


class Writer:
    """Zipf-distributed words from a lexicon, sometimes stressed, sometimes with ё."""

    def __init__(self, lexicon: Sequence[str], rng: random.Random, exponent: float = 1.07) -> None:
        self._lexicon = lexicon
        self._rng = rng
        weights = [1.0 / (rank + 5) ** exponent for rank in range(len(lexicon))]  # Zipf–Mandelbrot
        total = 0.0
        self._cumulative = []
        for weight in weights:
            total += weight
            self._cumulative.append(total)

    def word(self) -> str:
        word = self._rng.choices(self._lexicon, cum_weights=self._cumulative)[0]
        if ACUTE in word or self._rng.random() < 0.5:
            return word
        return stressed(word, self._rng)

    def words(self, low: int, high: int, function_share: float = 0.3) -> list[str]:
        return [
            self._rng.choice(FUNCTION_WORDS) if self._rng.random() < function_share else self.word()
            for _ in range(self._rng.randint(low, high))
        ]


def layout(lines: Sequence[str], rng: random.Random) -> Transcript:
    """Words left to right, lines top to bottom, on a 1240×1750 scan (an A6 card at 300 dpi)."""
    built = []
    for row, line in enumerate(lines):
        x, y = 40.0 + rng.random() * 20, 60.0 + row * 110
        words = []
        for text in line.split():
            width = 24.0 * len(text) + rng.random() * 10
            words.append(TranscriptWord(text, Box(x, y, x + width, y + 70), 0.8 + rng.random() / 5, rng.random()))
            x += width + 30
        built.append(TranscriptLine(tuple(words)))
    return Transcript(1240, 1750, tuple(built))


def make_corpus(count: int, rng: random.Random, lexicon_size: int) -> Corpus:
    writer = Writer(make_lexicon(lexicon_size, rng), rng)
    corpus = Corpus(cards=[], card_words=[])
    for _ in range(count):
        head = writer.word()
        lines = [
            f"{head.upper()}, {rng.choice(PARTS)}",
            " ".join(writer.words(3, 8)) + ".",
            "«" + " ".join(writer.words(4, 10, 0.35)).capitalize() + "»",
            f"{rng.choice(PLACES)} {rng.choice(PLACES)} {rng.randint(1948, 1999)}",
        ]
        transcript = layout([normalize_text(line) for line in lines], rng)
        forms = set(search_body(transcript).split())
        corpus.cards.append(transcript)
        corpus.card_words.append(forms)
        corpus.document_frequency.update(forms)
    return corpus


# ----------------------------------------------------------------------------------------------- load


async def load(dsn: str, corpus: Corpus) -> tuple[list[uuid.UUID], dict[str, float]]:
    """COPY the cards into recognition_tasks, transcript_search and search_words (indexes in place)."""
    ids = [uuid.uuid4() for _ in corpus.cards]
    now = datetime(2026, 11, 23, tzinfo=UTC)
    times: dict[str, float] = {}
    conn = await asyncpg.connect(dsn)
    try:
        await conn.set_type_codec(  # COPY is binary: jsonb's binary form is a version byte and the text
            "jsonb",
            encoder=lambda value: b"\x01" + json.dumps(value, ensure_ascii=False).encode(),
            decoder=lambda data: json.loads(data[1:]),
            schema="pg_catalog",
            format="binary",
        )
        t0 = time.perf_counter()
        await conn.copy_records_to_table(
            "recognition_tasks",
            columns=[
                "id",
                "status",
                "attempt",
                "image_key",
                "filename",
                "content_type",
                "size",
                "width",
                "height",
                "transcript",
                "transcript_revision",
                "created_at",
                "updated_at",
                "finished_at",
                "version",
            ],
            records=[
                (
                    task_id,
                    "completed",
                    1,
                    f"cards/{task_id}/original.png",
                    f"card-{n:06d}.png",
                    "image/png",
                    1,
                    card.width,
                    card.height,
                    card.to_dict(),
                    0,
                    now - timedelta(seconds=n),
                    now,
                    now,
                    2,
                )
                for n, (task_id, card) in enumerate(zip(ids, corpus.cards, strict=True))
            ],
        )
        times["copy recognition_tasks"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await conn.copy_records_to_table(
            "transcript_search",
            columns=["task_id", "revision", "body", "updated_at"],
            records=[
                (task_id, 0, search_body(card), now - timedelta(seconds=n))
                for n, (task_id, card) in enumerate(zip(ids, corpus.cards, strict=True))
            ],
        )
        times["copy transcript_search (tsvector + GIN)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        words = lexicon_rows(corpus.document_frequency)
        await conn.copy_records_to_table(
            "search_words", columns=["word", "trigrams"], records=[(w["word"], w["trigrams"]) for w in words]
        )
        times["copy search_words (trigram GIN)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await conn.execute("VACUUM ANALYZE recognition_tasks, transcript_search, search_words")
        times["vacuum analyze"] = time.perf_counter() - t0
    finally:
        await conn.close()
    return ids, times


# -------------------------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    term: str  # the folded word the baseline looks for
    card: int  # the card it was drawn from (recall: was it found?)


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    replacement = rng.choice([c for c in "абвгдеклмнопрстя" if c != word[i]])
    return word[:i] + replacement + word[i + 1 :]


def make_queries(corpus: Corpus, ids_count: int, per_kind: int, rng: random.Random) -> list[Query]:
    df = corpus.document_frequency
    content = [w for w in df if len(w) >= 5 and w not in FUNCTION_WORDS and not w.isdigit()]
    common = sorted(content, key=lambda w: -df[w])[:50]
    rare = [w for w in content if 2 <= df[w] <= 20]
    queries: list[Query] = []

    def card_with(word: str) -> int:
        while True:
            n = rng.randrange(ids_count)
            if word in corpus.card_words[n]:
                return n

    def card_of(word: str) -> int:
        matches = [n for n in rng.sample(range(ids_count), min(ids_count, 20_000)) if word in corpus.card_words[n]]
        return matches[0] if matches else card_with(word)

    for _ in range(per_kind):
        word = rng.choice(rare)
        queries.append(Query("rare word", word, word, card_of(word)))
    for _ in range(per_kind):
        word = rng.choice(common)
        queries.append(Query("common word", word, word, card_of(word)))
    for _ in range(per_kind):
        n = rng.randrange(ids_count)
        written = [w for line in corpus.cards[n].lines for w in line.words if ACUTE in w.text]
        if written:
            text = written[0].text.strip("«».,").lower()
            queries.append(Query("stressed query", text, search_form(text), n))
    for _ in range(per_kind):
        word = rng.choice([w for w in rare if len(w) >= 6])
        queries.append(Query("typo (1 letter)", typo(word, rng), word, card_of(word)))
    for _ in range(per_kind):
        word = rng.choice([w for w in rare if len(w) >= 7])
        queries.append(Query("prefix", word[:5], word[:5], card_of(word)))
    for _ in range(per_kind):
        n = rng.randrange(ids_count)
        example = search_words(corpus.cards[n].lines[2].text)
        if len(example) >= 3:
            i = rng.randrange(len(example) - 1)
            queries.append(Query("two-word phrase", f"{example[i]} {example[i + 1]}", example[i], n))
    rng.shuffle(queries)
    return queries


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    sys.stdout.flush()


BASELINE = """
    SELECT task_id FROM transcript_search
    WHERE body ILIKE $1 ORDER BY updated_at DESC LIMIT 20
"""


async def measure(url: str, dsn: str, ids: list[uuid.UUID], queries: list[Query], limit: int) -> list[list[Any]]:
    engine = create_async_engine(url, pool_size=2)
    search = SearchTranscripts(SqlTranscriptIndex(engine))
    conn = await asyncpg.connect(dsn)
    fts: dict[str, list[float]] = {}
    ilike: dict[str, list[float]] = {}
    fts_recall: Counter[str] = Counter()
    ilike_recall: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    try:
        for query in queries[:20]:  # warm caches and the pool: the figures are for a running service
            await search(query.text, limit=limit)
            await conn.fetch(BASELINE, f"%{query.term}%")
        for query in queries:
            counts[query.kind] += 1
            t0 = time.perf_counter()
            results = await search(query.text, limit=limit)
            fts.setdefault(query.kind, []).append(time.perf_counter() - t0)
            if any(hit.task_id == ids[query.card] for hit in results.hits) or len(results.hits) == limit:
                fts_recall[query.kind] += 1
            t0 = time.perf_counter()
            rows = await conn.fetch(BASELINE, f"%{query.term if query.kind != 'typo (1 letter)' else query.text}%")
            ilike.setdefault(query.kind, []).append(time.perf_counter() - t0)
            if any(row["task_id"] == ids[query.card] for row in rows) or len(rows) == limit:
                ilike_recall[query.kind] += 1
    finally:
        await conn.close()
        await engine.dispose()

    table = []
    kinds = [*sorted(fts), "all"]
    for kind in kinds:
        a = [v for k in fts for v in fts[k]] if kind == "all" else fts[kind]
        b = [v for k in ilike for v in ilike[k]] if kind == "all" else ilike[kind]
        n = sum(counts.values()) if kind == "all" else counts[kind]
        hit_a = sum(fts_recall.values()) if kind == "all" else fts_recall[kind]
        hit_b = sum(ilike_recall.values()) if kind == "all" else ilike_recall[kind]
        table.append(
            [
                kind,
                n,
                f"{percentile(a, 50) * 1000:.1f}",
                f"{percentile(a, 95) * 1000:.1f}",
                f"{percentile(b, 50) * 1000:.1f}",
                f"{percentile(b, 95) * 1000:.1f}",
                f"{percentile(b, 50) / percentile(a, 50):.0f}×",
                f"{percentile(b, 95) / percentile(a, 95):.0f}×",
                f"{hit_a}/{n}",
                f"{hit_b}/{n}",
            ]
        )
    return table


async def sizes(dsn: str) -> list[list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = []
        for name, kind in [
            ("ix_transcript_search_document", "GIN over the tsvector (index)"),
            ("transcript_search", "search documents (table, with TOAST)"),
            ("ix_search_words_trigrams", "GIN trigram over lexicon keys (index)"),
            ("search_words", "lexicon (table)"),
            ("pk_search_words", "lexicon primary key (index)"),
            ("recognition_tasks", "tasks (table, with TOAST)"),
        ]:
            relation = await conn.fetchval("SELECT pg_relation_size($1::regclass)", name)
            total = await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", name)
            table_size = await conn.fetchval("SELECT pg_table_size($1::regclass)", name)
            shown = relation if kind.endswith("(index)") else table_size
            rows.append([name, kind, f"{shown / 2**20:.1f}", f"{total / 2**20:.1f}"])
        words = await conn.fetchval("SELECT count(*) FROM search_words")
        rows.append(["search_words rows", "distinct word forms", str(words), ""])
        return rows
    finally:
        await conn.close()


async def show_plan(dsn: str) -> None:
    """The plan of a one-word search, to show the GIN index is what answers it."""
    conn = await asyncpg.connect(dsn)
    try:
        word = await conn.fetchval("SELECT word FROM search_words WHERE length(word) > 6 ORDER BY word LIMIT 1")
        plan = await conn.fetch(
            "EXPLAIN SELECT task_id FROM transcript_search WHERE document @@ to_tsquery('simple', $1)", word
        )
    finally:
        await conn.close()
    print(f"\nplan of a search for {word!r}:\n  " + "\n  ".join(r[0] for r in plan))


# ----------------------------------------------------------------------------------------------- main


async def run(args: argparse.Namespace, server: Any) -> None:
    name = f"fulltext_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = server.url.rsplit("/", 1)[0] + "/" + name
    dsn = server.dsn.rsplit("/", 1)[0] + "/" + name
    await asyncio.to_thread(upgrade, url)

    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    corpus = make_corpus(args.cards, rng, args.lexicon)
    generated = time.perf_counter() - t0
    lines = [len(c.lines) for c in corpus.cards]
    words = [len(c.words) for c in corpus.cards]
    print(
        f"generated {args.cards} cards in {generated:.0f} s: {statistics.mean(lines):.1f} lines and "
        f"{statistics.mean(words):.1f} words per card, {len(corpus.document_frequency)} distinct word forms",
        flush=True,
    )
    sample = corpus.cards[0]
    print("a card:\n  " + "\n  ".join(line.text for line in sample.lines), flush=True)

    ids, times = await load(dsn, corpus)
    print_table("Load", ["step", "seconds"], [[k, f"{v:.1f}"] for k, v in times.items()])
    print_table("Sizes", ["relation", "what", "MiB", "MiB with indexes/TOAST"], await sizes(dsn))
    await show_plan(dsn)

    queries = make_queries(corpus, len(ids), args.queries, rng)
    table = await measure(url, dsn, ids, queries, args.limit)
    print_table(
        f"Search latency in ms, one query at a time, top {args.limit} (full-text = SearchTranscripts over "
        "tsvector GIN + pg_trgm lexicon; baseline = ILIKE '%word%' sequential scan on the same folded text)",
        [
            "query kind",
            "n",
            "fts p50",
            "fts p95",
            "ilike p50",
            "ilike p95",
            "p50 ratio",
            "p95 ratio",
            "fts found",
            "ilike found",
        ],
        table,
    )
    print(
        "\n'found': the query's source card is among the results, or the results are a full page of cards "
        "holding the word (common words); ILIKE gets the typo as typed."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.fulltext", description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=100_000, help="synthetic transcripts to load")
    parser.add_argument("--queries", type=int, default=150, help="queries per kind")
    parser.add_argument("--lexicon", type=int, default=40_000, help="generated word stems")
    parser.add_argument("--limit", type=int, default=20, help="results per query")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from tests.harness.postgres import running_postgres

    started = time.perf_counter()
    print(f"kartoteka full-text benchmark: {args.cards} cards on {os.cpu_count()} CPUs; starting PostgreSQL…")
    with tempfile.TemporaryDirectory(prefix="kartoteka-bench-") as tmp, running_postgres(Path(tmp)) as server:
        asyncio.run(run(args, server))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
