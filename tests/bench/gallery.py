"""Gallery benchmarks: vector search (HNSW against exact) and indexing throughput (against the model alone).

    python -m tests.bench.gallery [search] [indexing] [options]   # none named: both

Each run starts the real servers it needs through the test harness (PostgreSQL+pgvector, and S3 for
``indexing``) on free loopback ports, gives each benchmark a freshly migrated database, measures the
baseline in the same run on the same servers, prints tables with the ratios and the verdict against the
target from the retrieval issue, and stops everything before it exits.

1. ``search`` — 100,000 L2-normalised 768-d vectors, *clustered* like real embeddings rather than uniform
   noise: 1,000 cluster centres around a shared mean direction (real encoders put every image in one cone),
   members scattered around their centre with a per-cluster spread, both with a power-law spectrum (a few
   directions carry most of the variance, as a PCA of real image embeddings shows). The data's statistics
   (neighbour and random-pair similarities, effective dimensionality) are printed so the reader can judge.
   The vectors are COPYed (binary) into ``gallery_images`` + ``image_vectors``, then the model is registered
   through ``SqlModelRegistry.register``, which builds the service's own partial HNSW index: once with the
   server's ``maintenance_work_mem`` (what the service gets) and once with 1 GB set for the session (1a:
   build time, ``pg_relation_size``, whether pgvector kept the graph in memory). 200 queries — half
   near-duplicates of gallery vectors (a re-uploaded photo), half fresh points drawn from the clusters (a
   new photo of a known subject) — go through ``PgVectorIndex.search`` with top_k=10: exactly
   (``exact=True``, index scans off: the baseline) and on HNSW at several ``hnsw.ef_search`` values, the
   variants interleaved query by query (1b: p50/p95 latency, recall@10 against exact, speed-up, and the
   plans of the service's statement). 1c: the cost of writing vectors as ``IndexImages`` does into the
   indexed 100,000-vector space, against a space with no index.
   Target: HNSW ≥ 20× faster than exact at recall@10 ≥ 0.95.
2. ``indexing`` — ``IndexImages`` (the embedding worker's use case, wired as the worker wires it: images
   read from S3, decoded and preprocessed by the encoder, one model call per batch, thumbnails made and
   stored in S3, vectors and images written to PostgreSQL) over augmented scikit-image photos and LASA
   sketches stored in the harness's S3, against the model alone: the embedder's ``embed()`` on the same
   images already preprocessed, in batches of the same size, with the same torch threads. The service runs
   one batch at a time and two at a time (the embedding worker takes two jobs at once); every service
   pass indexes image rows never indexed before. The paths alternate every few batches so that load
   from elsewhere falls on all of them alike. 2a: images/s, the ratio to model-only, and CPU per image
   (this process and the servers); 2b: wall time per stage of the service path; ``--profile`` adds 2c, a
   cProfile of the event loop and the decode/thumbnail threads. Target: ≥ 80 % of model-only.

The machine's cores are shared by the servers, the client and the model (and, on a shared machine, by
other people's work: the load average is printed), so absolute figures are pessimistic for production;
compare them with the baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import math
import os
import pstats
import re
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.ports.embedding import EmbeddingModelId
from kartoteka.application.gallery.ports.store import ImageFilter, PageRequest, SimilarityQuery
from kartoteka.infrastructure.config.settings import DatabaseSettings
from kartoteka.infrastructure.db.engine import create_engine
from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
from kartoteka.infrastructure.db.gallery.reader import PgVectorIndex
from kartoteka.infrastructure.db.gallery.rows import index_name
from tests.bench.service import fresh_database, leftover_children, ms, percentile, print_table, ratio, verdict

BENCHMARKS = ("search", "indexing")
NEEDS: dict[str, set[str]] = {"search": {"postgres"}, "indexing": {"postgres", "s3"}}
SEARCH_SPEEDUP_TARGET = 20.0
SEARCH_RECALL_TARGET = 0.95
INDEXING_TARGET = 0.80
SERVICE_EF_SEARCH = 100  # PgVectorIndex's default, what the api searches with
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class Servers:
    postgres: Any
    s3: Any | None


@contextmanager
def start_servers(needs: set[str], workdir: Path) -> Iterator[Servers]:
    """Start the servers in ``needs`` through the harness; all stop on exit."""
    from tests.harness.postgres import running_postgres
    from tests.harness.s3 import running_s3

    with ExitStack() as stack:
        started: dict[str, Any] = {}
        for name, start in (("postgres", running_postgres), ("s3", running_s3)):
            if name in needs:
                t0 = time.perf_counter()
                started[name] = stack.enter_context(start(workdir / name))
                print(f"  {name} up in {time.perf_counter() - t0:.1f} s", flush=True)
        yield Servers(started["postgres"], started.get("s3"))


def mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


# --------------------------------------------------------------------------------------------- 1. search


@dataclass(frozen=True)
class Embeddings:
    """A clustered gallery of unit vectors, its cluster labels, and queries with their kinds."""

    gallery: NDArray[np.float32]
    labels: NDArray[np.int64]
    queries: NDArray[np.float32]
    query_kinds: list[str]


def _unit(rows: NDArray[np.floating]) -> NDArray[np.float32]:
    out: NDArray[np.float32] = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return out


def clustered_embeddings(args: argparse.Namespace) -> Embeddings:
    """Unit vectors grouped in clusters, anisotropic like real image embeddings (see the module docstring).

    A direction's scale follows ``(i + 1) ** -decay / norm`` (so noise vectors have about unit length):
    a few directions carry most of the variance. Centres are ``shared_mean * mu + noise`` (every pair of
    centres about as similar as two unrelated real photos); a member is ``centre + spread * noise`` with
    the spread drawn per cluster (tight and loose clusters). Queries: half are gallery vectors moved by
    ``--duplicate-noise`` (near-duplicates), half fresh members of random clusters.
    """
    rng = np.random.default_rng(args.seed)
    d = args.dimension
    scales = (np.arange(1, d + 1, dtype=np.float64) ** -args.spectrum_decay).astype(np.float32)
    scales /= np.float32(np.sqrt(np.sum(scales**2)))

    def noise(n: int) -> NDArray[np.float32]:
        out: NDArray[np.float32] = rng.standard_normal((n, d), dtype=np.float32) * scales
        return out

    mu = _unit(rng.standard_normal((1, d)))[0]
    centres = _unit(args.shared_mean * mu + noise(args.clusters))
    spreads = rng.uniform(args.spread_min, args.spread_max, args.clusters).astype(np.float32)
    labels = rng.integers(0, args.clusters, args.vectors)
    gallery = np.empty((args.vectors, d), dtype=np.float32)
    for start in range(0, args.vectors, 20_000):  # in slices: the noise matrix of all rows at once is 300 MB more
        rows = slice(start, min(start + 20_000, args.vectors))
        chosen = labels[rows]
        gallery[rows] = _unit(centres[chosen] + spreads[chosen, None] * noise(len(chosen)))
    duplicates = args.queries // 2
    sources = rng.choice(args.vectors, duplicates, replace=False)
    near = _unit(gallery[sources] + args.duplicate_noise * noise(duplicates))
    fresh_labels = rng.integers(0, args.clusters, args.queries - duplicates)
    fresh = _unit(centres[fresh_labels] + spreads[fresh_labels, None] * noise(len(fresh_labels)))
    kinds = ["near-duplicate"] * duplicates + ["fresh member"] * (args.queries - duplicates)
    return Embeddings(gallery, labels, np.concatenate([near, fresh]), kinds)


def brute_force(gallery: NDArray[np.float32], queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
    """Indices of the ``k`` most similar gallery rows of each query, best first (numpy, exact)."""
    found = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 50):
        sims = queries[start : start + 50] @ gallery.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        found[start : start + 50] = np.take_along_axis(top, order, axis=1)
    return found


def describe_data(data: Embeddings, truth: NDArray[np.int64], k: int) -> None:
    rng = np.random.default_rng(1)
    g = data.gallery
    pairs = rng.integers(0, len(g), (20_000, 2))
    random_pairs = np.einsum("ij,ij->i", g[pairs[:, 0]], g[pairs[:, 1]])
    sims = np.einsum("qd,qkd->qk", data.queries, g[truth[:, : k + 1]])
    # Participation ratio of the covariance spectrum: how many directions the data really uses.
    sample = g[rng.choice(len(g), min(len(g), 20_000), replace=False)].astype(np.float64)
    eig = np.clip(np.linalg.eigvalsh(np.cov(sample, rowvar=False)), 0, None)
    effective = float(eig.sum() ** 2 / np.sum(eig**2))
    sizes = np.bincount(data.labels)
    print(
        f"  data: {len(g):,} × {g.shape[1]} unit vectors in {len(sizes)} clusters "
        f"({sizes.min()}–{sizes.max()} members), effective dimensionality {effective:.0f}; "
        f"cosine of random pairs {np.mean(random_pairs):.2f} ± {np.std(random_pairs):.2f}",
        flush=True,
    )
    for kind in dict.fromkeys(data.query_kinds):
        rows = [i for i, q in enumerate(data.query_kinds) if q == kind]
        s = sims[rows]
        print(
            f"  {kind} queries: cosine to the 1st neighbour {np.mean(s[:, 0]):.3f}, to the {k}th "
            f"{np.mean(s[:, k - 1]):.3f}, {k}th−{k + 1}th gap {np.mean(s[:, k - 1] - s[:, k]):.4f}",
            flush=True,
        )


def vector_binary(row: NDArray[np.float32]) -> bytes:
    """pgvector's binary wire form: dimension and a reserved word (uint16, big-endian), then float4s."""
    return struct.pack(">HH", len(row), 0) + row.astype(">f4").tobytes()


async def load_gallery(dsn: str, ids: list[uuid.UUID], gallery: NDArray[np.float32], model: EmbeddingModelId) -> float:
    """COPY the image rows and their vectors (binary COPY, vectors in pgvector's binary form); seconds."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.set_type_codec("vector", schema="public", encoder=lambda b: b, decoder=lambda b: b, format="binary")
        start = time.perf_counter()
        images = (
            (
                i,
                "upload",
                f"bench/{n:06d}.jpg",
                "bench",
                f"{n:06d}.jpg",
                f"gallery/{i}",
                "image/jpeg",
                1000,
                f"h{n}",
                T0,
                T0,
            )
            for n, i in enumerate(ids)
        )
        await conn.copy_records_to_table(
            "gallery_images",
            records=images,
            columns=[
                "id",
                "source",
                "path",
                "directory",
                "name",
                "object_key",
                "media_type",
                "size",
                "content_hash",
                "created_at",
                "modified_at",
            ],
        )
        for chunk in range(0, len(ids), 10_000):
            vectors = (
                (ids[n], model.key, model.version, "embedded", vector_binary(gallery[n]))
                for n in range(chunk, min(chunk + 10_000, len(ids)))
            )
            await conn.copy_records_to_table(
                "image_vectors",
                records=vectors,
                columns=["image_id", "model_key", "model_version", "state", "embedding"],
            )
        seconds = time.perf_counter() - start
        await conn.execute("VACUUM ANALYZE gallery_images")
        await conn.execute("VACUUM ANALYZE image_vectors")
    finally:
        await conn.close()
    return seconds


@dataclass
class SearchRun:
    name: str
    latencies: list[float] = field(default_factory=list)
    results: list[list[uuid.UUID]] = field(default_factory=list)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)


def recall(found: Sequence[Sequence[uuid.UUID]], truth: Sequence[Sequence[uuid.UUID]], k: int) -> list[float]:
    return [len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)]


class StatementLog:
    """Keeps the SQL and parameters the engine sends, to EXPLAIN exactly what the service ran."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.seen: list[tuple[str, Any]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._note)

    def _note(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        self.seen.append((statement, parameters))

    def search_statements(self) -> list[tuple[str, Any]]:
        return [(s, p) for s, p in self.seen if "nearest" in s]


async def explain(engine: AsyncEngine, index: PgVectorIndex, statement: str, parameters: Any) -> str:
    """EXPLAIN ANALYZE of a captured search statement under the index's own session settings."""
    async with engine.begin() as conn:
        await index._tune(conn)
        rows = await conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters)
        return re.sub(r"'\[[^\]]*\]'", "'[…]'", "\n".join(r[0] for r in rows))


@dataclass(frozen=True)
class Build:
    memory: str
    seconds: float
    size: int
    spilled: str | None  # pgvector's notice when the graph outgrew maintenance_work_mem


async def build_index(url: str, model: EmbeddingModelId, args: argparse.Namespace, memory: str) -> Build:
    """(Re)build the model's index through ``SqlModelRegistry.register`` with ``maintenance_work_mem``.

    ``server`` leaves the server's setting (what the service gets); any other value is set for the
    registering session only. An index left by an earlier build is dropped first.
    """
    from sqlalchemy.ext.asyncio import create_async_engine

    settings = {} if memory == "server" else {"server_settings": {"maintenance_work_mem": memory}}
    engine = create_async_engine(url, connect_args=settings)
    notices: list[str] = []

    @event.listens_for(engine.sync_engine, "connect")
    def _listen(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.driver_connection.add_log_listener(lambda _c, m: notices.append(str(m)))

    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP INDEX IF EXISTS {index_name(model)}"))
            shown = str(await conn.scalar(text("SHOW maintenance_work_mem")))
            workers = await conn.scalar(text("SHOW max_parallel_maintenance_workers"))
        notices.clear()  # the DROP's "does not exist, skipping"
        print(
            f"  search: building the HNSW index through SqlModelRegistry.register, maintenance_work_mem={shown}, "
            f"max_parallel_maintenance_workers={workers}…",
            flush=True,
        )
        start = time.perf_counter()
        await SqlModelRegistry(engine, ef_construction=args.ef_construction, hnsw_m=args.m).register(
            model, args.dimension, supports_text=False
        )
        seconds = time.perf_counter() - start
        async with engine.connect() as conn:
            size = int(await conn.scalar(text(f"SELECT pg_relation_size('{index_name(model)}')")) or 0)
    finally:
        await engine.dispose()
    spilled = next((m.group(1) for n in notices if (m := re.search(r"no longer fits.* after (\d+)", n))), None)
    for notice in notices:
        print(f"  postgres: {notice.split(':', 1)[-1].strip()}", flush=True)
    print(f"  search: built in {seconds:.1f} s", flush=True)
    return Build(f"{shown} ({'server' if memory == 'server' else 'session'})", seconds, size, spilled)


async def bench_search(servers: Servers, args: argparse.Namespace) -> None:
    url = await fresh_database(servers.postgres, "bench_search")
    dsn = "postgresql://" + url.split("://", 1)[1]
    model = EmbeddingModelId("bench-clustered", "v1")
    t0 = time.perf_counter()
    data = clustered_embeddings(args)
    truth_rows = brute_force(data.gallery, data.queries, args.top_k + 1)
    print(f"  search: generated the data in {time.perf_counter() - t0:.1f} s", flush=True)
    describe_data(data, truth_rows, args.top_k)
    ids = [uuid.uuid4() for _ in range(args.vectors)]
    load_s = await load_gallery(dsn, ids, data.gallery, model)
    print(f"  search: COPY of {args.vectors:,} images + vectors in {load_s:.1f} s", flush=True)

    engine = create_engine(DatabaseSettings(url=url))
    try:
        builds = [await build_index(url, model, args, memory) for memory in args.build_memory]
        async with engine.connect() as conn:
            shared_buffers = await conn.scalar(text("SHOW shared_buffers"))
            heap = int(await conn.scalar(text("SELECT pg_relation_size('image_vectors')")) or 0)
            toast = int(
                await conn.scalar(
                    text("SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'image_vectors'")
                )
                or 0
            )
        print_table(
            f"1a. HNSW index (m={args.m}, ef_construction={args.ef_construction}) over {args.vectors:,} × "
            f"{args.dimension}, built by SqlModelRegistry.register (vectors: heap {mib(heap)}, TOAST {mib(toast)}; "
            f"shared_buffers {shared_buffers})",
            ["maintenance_work_mem", "build s", "vs first", "index size", "bytes/vector", "graph in memory"],
            [
                [
                    b.memory,
                    f"{b.seconds:.1f}",
                    ratio(builds[0].seconds, b.seconds),
                    mib(b.size),
                    f"{b.size / args.vectors:.0f}",
                    "all of it" if b.spilled is None else f"no: spilled after {b.spilled} vectors",
                ]
                for b in builds
            ],
        )
        if any(b.spilled for b in builds):
            print("   (pgvector builds on disk, far slower, once the graph no longer fits into maintenance_work_mem)")

        variants = [("exact (index scans off)", PgVectorIndex(engine, exact=True))] + [
            (f"HNSW ef_search={ef}", PgVectorIndex(engine, ef_search=ef)) for ef in args.ef_search
        ]
        runs = await run_interleaved(variants, data.queries, model, args)
        log = StatementLog(engine)
        await variants[-1][1].search(query_of(data.queries[0], model, args.top_k))
        executions = len(log.search_statements())
        page_statement = next(s for s in log.search_statements() if " AS score" in s[0])
        plans = [(variants[0][0], await explain(engine, variants[0][1], *page_statement))]
        service_default = next((v for v in variants if v[0] == f"HNSW ef_search={SERVICE_EF_SEARCH}"), variants[-1])
        plans.append((service_default[0], await explain(engine, service_default[1], *page_statement)))
        writes = await incremental_writes(url, engine, model, data, args)
    finally:
        await engine.dispose()

    exact = runs[0]
    numpy_truth = [[ids[j] for j in row[: args.top_k]] for row in truth_rows]
    exact_vs_numpy = float(np.mean(recall(exact.results, numpy_truth, args.top_k)))
    kinds = list(dict.fromkeys(data.query_kinds))
    rows: list[list[object]] = [
        [exact.name, ms(exact.p(50)), ms(exact.p(95)), "1.000", *["1.000" for _ in kinds], "1.0×", "1.0×", "baseline"]
    ]
    reached: list[str] = []
    for run in runs[1:]:
        r = recall(run.results, exact.results, args.top_k)
        by_kind = [np.mean([x for x, q in zip(r, data.query_kinds, strict=True) if q == k]) for k in kinds]
        speedup = exact.p(50) / run.p(50)
        ok = speedup >= SEARCH_SPEEDUP_TARGET and float(np.mean(r)) >= SEARCH_RECALL_TARGET
        if ok:
            reached.append(run.name.split("=")[-1])
        rows.append(
            [
                run.name,
                ms(run.p(50)),
                ms(run.p(95)),
                f"{np.mean(r):.3f}",
                *[f"{x:.3f}" for x in by_kind],
                f"{speedup:.1f}×",
                f"{exact.p(95) / run.p(95):.1f}×",
                verdict(ok),
            ]
        )
    print_table(
        f"1b. search through PgVectorIndex.search, top_k={args.top_k}, {args.queries} queries "
        f"({', '.join(kinds)}; variants interleaved query by query), latency ms",
        ["variant", "p50", "p95", "recall@10", *kinds, "speed-up p50", "speed-up p95", "≥20× at ≥0.95"],
        rows,
    )
    print(f"   recall of the exact search against numpy brute force: {exact_vs_numpy:.3f}")
    print(
        f"   one PgVectorIndex.search ran the nearest-neighbour query {executions}× "
        "(the page, then the count of hits within top_k)"
    )
    for name, plan in plans:
        print(f"   plan of the page query, {name} (EXPLAIN ANALYZE, query vector elided):")
        print("     " + "\n     ".join(plan.splitlines()))
    indexed, plain = writes
    print_table(
        f"1c. vector writes as IndexImages makes them (SqlVectorStore.save, commit per {args.write_batch}) into "
        f"the {args.vectors:,}-vector space, ms per vector",
        ["space", "vectors", "p50 per batch", "ms/vector", "vs unindexed"],
        [
            [
                w.name,
                w.count,
                ms(percentile(w.batches, 50)),
                f"{w.per_vector * 1000:.2f}",
                ratio(w.per_vector, plain.per_vector),
            ]
            for w in (plain, indexed)
        ],
    )
    load = os.getloadavg()
    print(f"   load average of the machine at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    default = f"; at the service's ef_search={SERVICE_EF_SEARCH}: {verdict(str(SERVICE_EF_SEARCH) in reached)}"
    print(
        f"target HNSW ≥ {SEARCH_SPEEDUP_TARGET:.0f}× faster than exact at recall@{args.top_k} ≥ "
        f"{SEARCH_RECALL_TARGET}: {verdict(bool(reached))}"
        + (f" (ef_search {', '.join(reached)})" if reached else "")
        + (default if SERVICE_EF_SEARCH in args.ef_search else "")
    )


def query_of(vector: NDArray[np.float32], model: EmbeddingModelId, top_k: int) -> SimilarityQuery:
    return SimilarityQuery([float(x) for x in vector], model, ImageFilter(), top_k=top_k, page=PageRequest(1, top_k))


async def run_interleaved(
    variants: Sequence[tuple[str, PgVectorIndex]],
    vectors: NDArray[np.float32],
    model: EmbeddingModelId,
    args: argparse.Namespace,
) -> list[SearchRun]:
    """Every query through every variant, the variants' order rotating from query to query.

    Interleaving exposes every variant to the same moments of the machine (other processes, cache
    state), so a burst of load elsewhere cannot flatter or hurt one variant's figures.
    """
    runs = [SearchRun(name) for name, _ in variants]
    queries = [query_of(v, model, args.top_k) for v in vectors]
    for query in queries[: args.warmup]:
        for _, index in variants:
            await index.search(query)
    start = time.perf_counter()
    for n, query in enumerate(queries):
        for step in range(len(variants)):
            v = (n + step) % len(variants)
            t0 = time.perf_counter()
            page = await variants[v][1].search(query)
            runs[v].latencies.append(time.perf_counter() - t0)
            runs[v].results.append([h.image.id for h in page.hits])
        if (n + 1) % 50 == 0:
            print(f"  search: {n + 1}/{len(queries)} queries, {time.perf_counter() - start:.0f} s", flush=True)
    return runs


@dataclass
class Writes:
    name: str
    count: int
    batches: list[float]

    @property
    def per_vector(self) -> float:
        return sum(self.batches) / self.count if self.count else math.nan


async def incremental_writes(
    url: str, engine: AsyncEngine, model: EmbeddingModelId, data: Embeddings, args: argparse.Namespace
) -> tuple[Writes, Writes]:
    """New vectors written the way IndexImages writes them, into the indexed space and into an unindexed one.

    The unindexed space (a model with no registered index) pays the same heap, TOAST and B-tree writes,
    so the difference is what maintaining the HNSW graph costs per embedded image.
    """
    from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork

    rng = np.random.default_rng(args.seed + 1)
    count = args.writes
    members = data.gallery[rng.choice(len(data.gallery), count, replace=False)]
    vectors = _unit(members + 0.3 * rng.standard_normal(members.shape).astype(np.float32) / math.sqrt(members.shape[1]))
    ids = [uuid.uuid4() for _ in range(count)]
    dsn = "postgresql://" + url.split("://", 1)[1]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "gallery_images",
            records=[
                (i, "upload", f"new/{n:06d}.jpg", "new", f"{n:06d}.jpg", f"new/{i}", "image/jpeg", 1, f"n{n}", T0, T0)
                for n, i in enumerate(ids)
            ],
            columns=[
                "id",
                "source",
                "path",
                "directory",
                "name",
                "object_key",
                "media_type",
                "size",
                "content_hash",
                "created_at",
                "modified_at",
            ],
        )
    finally:
        await conn.close()
    unindexed = EmbeddingModelId("bench-unindexed", "v1")
    results: list[Writes] = []
    for name, space in (("HNSW-indexed space", model), ("unindexed space", unindexed)):
        batches: list[float] = []
        for start in range(0, count, args.write_batch):
            rows = [
                (ids[n], [float(x) for x in vectors[n]]) for n in range(start, min(start + args.write_batch, count))
            ]
            t0 = time.perf_counter()
            async with SqlGalleryUnitOfWork(engine) as uow:
                for image_id, vector in rows:
                    await uow.vectors.save(image_id, space, vector)
                await uow.commit()
            batches.append(time.perf_counter() - t0)
        results.append(Writes(name, count, batches))
    return results[0], results[1]


# --------------------------------------------------------------------------------------------- 2. indexing


@dataclass(frozen=True)
class Picture:
    name: str
    data: bytes
    media_type: str
    width: int
    height: int


def make_corpus(photos: int, sketches: int, photo_scale: float) -> list[Picture]:
    """Augmented scikit-image photos (JPEG: cropped, rotated, colour-shifted) and LASA sketches (PNG).

    Photos cycle through scikit-image's sample photos, each copy augmented with its own seed; with
    ``photo_scale`` > 1 the source is enlarged first (decoding then costs what a camera's photo costs).
    A third of the sketches are transparent, as a drawing app exports them.
    """
    from PIL import Image

    from kartoteka_dev.retrieval_eval import augment, sample_photos
    from kartoteka_dev.tiny_embedders import lasa_sketches

    sources = list(sample_photos().items())
    if photo_scale != 1.0:
        sources = [
            (
                name,
                image.resize(
                    (round(image.width * photo_scale), round(image.height * photo_scale)), Image.Resampling.BICUBIC
                ),
            )
            for name, image in sources
        ]
    corpus: list[Picture] = []
    for n in range(photos):
        name, image = sources[n % len(sources)]
        data = augment(image, seed=n)
        with Image.open(io.BytesIO(data)) as opened:
            corpus.append(Picture(f"{name}-{n:04d}.jpg", data, "image/jpeg", opened.width, opened.height))
    opaque = lasa_sketches()
    transparent = lasa_sketches(transparent=True)
    for n in range(sketches):
        sketch = (transparent if n % 3 == 2 else opaque)[n % len(opaque)]
        corpus.append(Picture(f"{sketch.label}-{n:04d}.png", sketch.png, "image/png", 256, 256))
    return corpus


def tree_cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system, all threads) of this process and of the servers it started.

    The servers are this process's descendants (PostgreSQL's backends and parallel workers, ``weed``);
    children they have reaped count through their parents' ``cutime``/``cstime``.
    """
    me = os.getpid()
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        seconds = sum(int(x) for x in fields[11:15]) / tick
        procs[int(stat.parent.name)] = (int(fields[1]), name, seconds)
    totals: dict[str, float] = {}
    for pid, (_, name, seconds) in procs.items():
        ancestor, group = pid, None
        while ancestor in procs and ancestor > 1:
            if ancestor == me:
                group = "this process" if pid == me else ("postgres" if name.startswith("postgres") else "s3 and other")
                break
            ancestor = procs[ancestor][0]
        if group is not None:
            totals[group] = totals.get(group, 0.0) + seconds
    return totals


class Stopwatch:
    """Wall time per stage of the service path: the time during which at least one call of the stage ran.

    Calls of one stage that overlap (concurrent object-store requests) count once, so a stage's
    figure is what it adds to the clock, not the sum of its calls.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._active: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.seconds.clear()

    def enter(self, stage: str) -> None:
        with self._lock:
            count, since = self._active.get(stage, (0, 0.0))
            self._active[stage] = (count + 1, time.perf_counter() if count == 0 else since)

    def leave(self, stage: str) -> None:
        with self._lock:
            count, since = self._active[stage]
            self._active[stage] = (count - 1, since)
            if count == 1:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - since

    def wrap(self, stages: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """``call`` timed under each of the ``|``-separated stage names."""
        names = stages.split("|")

        async def timed(*args: Any, **kwargs: Any) -> Any:
            for name in names:
                self.enter(name)
            try:
                return await call(*args, **kwargs)
            finally:
                for name in names:
                    self.leave(name)

        return timed

    def wrap_sync(self, stage: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.enter(stage)
            try:
                return call(*args, **kwargs)
            finally:
                self.leave(stage)

        return timed


class Timed:
    """A port with some of its coroutine methods timed under a stage name; the rest passes through."""

    def __init__(self, inner: Any, watch: Stopwatch, **stages: str) -> None:
        self._inner = inner
        for method, stage in stages.items():
            setattr(self, method, watch.wrap(stage, getattr(inner, method)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TimedUnitOfWork:
    """A gallery unit of work whose whole life (queries, commit) counts as database time."""

    def __init__(self, inner: Any, watch: Stopwatch) -> None:
        self._inner = inner
        self._watch = watch

    async def __aenter__(self) -> Any:
        self._watch.enter("database")
        await self._inner.__aenter__()
        return self._inner

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._inner.__aexit__(*exc)
        finally:
            self._watch.leave("database")


@dataclass
class Pass:
    name: str
    images: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process group

    def cpu_ms(self, *groups: str) -> float:
        chosen = groups or tuple(self.cpu)
        return sum(self.cpu.get(g, 0.0) for g in chosen) * 1000 / self.images if self.images else math.nan

    @property
    def rate(self) -> float:
        return self.images / self.seconds if self.seconds else math.nan


async def bench_indexing(servers: Servers, args: argparse.Namespace) -> None:
    from kartoteka.application.gallery.indexing import IndexImages
    from kartoteka.application.gallery.ports.embedding import ImageKind
    from kartoteka.domain.gallery.image import GalleryImage, ImageSource
    from kartoteka.infrastructure.config.settings import Settings
    from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork
    from kartoteka.infrastructure.imaging.gallery_files import GalleryFiles
    from kartoteka.infrastructure.imaging.thumbnails import PillowThumbnailMaker
    from kartoteka.infrastructure.ml.embedders.encoder import load_image_encoder
    from kartoteka.infrastructure.ml.embedders.preprocessing import prepare
    from kartoteka.infrastructure.ml.embedders.registry import EmbedderRegistry
    from kartoteka.infrastructure.ml.runtime import InferenceThread, resolve_device
    from kartoteka.infrastructure.storage.s3 import S3ObjectStorage

    assert servers.s3 is not None
    url = await fresh_database(servers.postgres, "bench_indexing")
    s3 = servers.s3
    settings = Settings.model_validate(
        {
            "database": {"url": url},
            "s3": {
                "endpoint": s3.endpoint,
                "access_key": s3.access_key,
                "secret_key": s3.secret_key,
                "region": s3.region,
                "bucket": f"bench-{uuid.uuid4().hex[:8]}",
            },
            "inference": {"device": args.device},
            "embedding": {"batch_size": args.batch_size},
        }
    )
    t0 = time.perf_counter()
    corpus = make_corpus(args.photos, args.sketches, args.photo_scale)
    photos = [p for p in corpus if p.media_type == "image/jpeg"]
    print(
        f"  indexing: {len(photos)} photos (JPEG, mean {np.mean([len(p.data) for p in photos]) / 1000:.0f} KB, "
        f"{np.mean([p.width * p.height for p in photos]) / 1e6:.2f} MP) and {len(corpus) - len(photos)} sketches "
        f"(PNG 256×256) made in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    encoder = await load_image_encoder(EmbedderRegistry(settings.embedding, device=resolve_device(settings.inference)))
    import torch

    print(
        f"  indexing: encoder {encoder.model.key} ({encoder.dimension}-d) on {args.device}, torch threads "
        f"{torch.get_num_threads()}, batch {args.batch_size}",
        flush=True,
    )
    engine = create_engine(settings.database)
    storage = S3ObjectStorage(settings.s3)
    model_thread = InferenceThread("bench-model-only")
    try:
        await storage.ensure_bucket()
        models = SqlModelRegistry(engine)
        await models.register(encoder.model, encoder.dimension, encoder.supports_text)
        await models.mark_ready(encoder.model)
        # Every picture is stored once, as an upload is; every service pass indexes image rows of its
        # own (never indexed before, as in production), all pointing at these objects.
        keys = []
        for n, picture in enumerate(corpus):
            keys.append(f"gallery/bench-{n:05d}/original{'.jpg' if picture.media_type == 'image/jpeg' else '.png'}")
            await storage.put(keys[-1], picture.data, picture.media_type)
        sets: list[list[list[uuid.UUID]]] = []
        for copy in range(1 + args.rounds * len(args.concurrency)):
            images: list[GalleryImage] = []
            for picture, key in zip(corpus, keys, strict=True):
                image = GalleryImage(
                    id=uuid.uuid4(),
                    source=ImageSource.UPLOAD,
                    path=f"bench-{copy}/{picture.name}",
                    name=picture.name,
                    directory=f"bench-{copy}",
                    size=len(picture.data),
                    content_hash=f"h-{picture.name}",
                    created_at=T0,
                    modified_at=T0,
                    media_type=picture.media_type,
                    width=picture.width,
                    height=picture.height,
                )
                image.object_key = key
                images.append(image)
            async with SqlGalleryUnitOfWork(engine) as uow:
                for image in images:
                    await uow.images.add(image)
                await uow.commit()
            sets.append(
                [
                    [i.id for i in images[start : start + args.batch_size]]
                    for start in range(0, len(images), args.batch_size)
                ]
            )
        # The same images, preprocessed by the encoder's own transform, for the model alone.
        spec = encoder.preprocessing
        max_pixels = settings.embedding.max_pixels
        prepared = [prepare(p.data, spec, ImageKind.PHOTO, max_pixels=max_pixels) for p in corpus]
        arrays = [
            np.stack(prepared[start : start + args.batch_size]) for start in range(0, len(prepared), args.batch_size)
        ]
        embed = encoder.embedder.embed

        watch = Stopwatch()
        encoder.embedder.embed = watch.wrap_sync("model", embed)  # the service path's model calls, timed
        index = IndexImages(
            lambda: TimedUnitOfWork(SqlGalleryUnitOfWork(engine), watch),
            Timed(encoder, watch, embed_images="encoder|encoder or thumbnails"),
            Timed(GalleryFiles({}, storage), watch, read="S3 read"),
            Timed(
                PillowThumbnailMaker(settings.gallery.thumbnail_size, max_pixels),
                watch,
                make="thumbnails|encoder or thumbnails",
            ),
            Timed(storage, watch, put="S3 write"),
            Timed(models, watch, progress="database", get="database", mark_ready="database"),
        )

        async def model_only(slot: Sequence[int]) -> None:
            for b in slot:
                await model_thread.run(embed, arrays[b])

        async def service(slot: Sequence[int], concurrency: int, batches: list[list[uuid.UUID]]) -> None:
            queue = list(slot)

            async def worker() -> None:
                while queue:
                    report = await index(batches[queue.pop(0)])
                    if report.failed:
                        raise RuntimeError(f"{report.failed} images failed to index")

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        # Warm-up: the model's first calls, connection pools, the S3 session.
        await model_thread.run(embed, arrays[0])
        await index(sets[0][0])
        watch.clear()

        passes = [Pass("model only: embed() on preprocessed batches")] + [
            Pass(f"IndexImages, {c} batch{'es' if c > 1 else ''} at a time") for c in args.concurrency
        ]
        slots = [list(range(b, min(b + args.slot, len(arrays)))) for b in range(0, len(arrays), args.slot)]
        stage_seconds: dict[str, float] = {}
        turn = 0
        for round_ in range(args.rounds):
            fresh = sets[1 + round_ * len(args.concurrency) :]
            paths: list[Callable[[Sequence[int]], Awaitable[None]]] = [model_only] + [
                (lambda slot, c=c, rows=fresh[n]: service(slot, c, rows)) for n, c in enumerate(args.concurrency)
            ]
            # Paths alternate slot by slot (a few batches each), in rotating order: load from other
            # processes on the machine falls on every path alike.
            for slot in slots:
                for step in range(len(paths)):
                    k = (turn + step) % len(paths)
                    watch.clear()
                    cpu = tree_cpu_seconds()
                    start = time.perf_counter()
                    await paths[k](slot)
                    passes[k].seconds += time.perf_counter() - start
                    for group, seconds in tree_cpu_seconds().items():
                        passes[k].cpu[group] = passes[k].cpu.get(group, 0.0) + seconds - cpu.get(group, 0.0)
                    passes[k].images += sum(len(arrays[b]) for b in slot)
                    if k == 1:
                        for stage, seconds in watch.seconds.items():
                            stage_seconds[stage] = stage_seconds.get(stage, 0.0) + seconds
                turn += 1
            print(
                f"  indexing: round {round_ + 1}/{args.rounds}: "
                + ", ".join(f"{p.rate:.1f}" for p in passes)
                + " images/s so far",
                flush=True,
            )
        profile_text = await profile_service(lambda: service(range(len(arrays)), 1, sets[1])) if args.profile else ""
    finally:
        model_thread.close()
        encoder.close()
        await storage.close()
        await engine.dispose()

    base = passes[0].rate
    print_table(
        f"2a. indexing throughput, {len(corpus)} images ({len(photos)} photos, {len(corpus) - len(photos)} sketches) "
        f"× {args.rounds} rounds, batch {args.batch_size}, {torch.get_num_threads()} torch threads on {args.device}",
        ["path", "images", "seconds", "images/s", "ms/image", "of model-only", "≥ 80 %", "CPU ms/image", "servers'"],
        [
            [
                p.name,
                p.images,
                f"{p.seconds:.1f}",
                f"{p.rate:.1f}",
                f"{1000 / p.rate:.1f}",
                f"{p.rate / base:.0%}",
                "baseline" if p is passes[0] else verdict(p.rate / base >= INDEXING_TARGET),
                f"{p.cpu_ms():.1f}",
                f"{p.cpu_ms('postgres', 's3 and other'):.1f}",
            ]
            for p in passes
        ],
    )
    print(
        "   CPU ms/image: user + system time of this process (all threads) and of the servers, per image; "
        "model-only CPU ÷ service CPU bounds the ratio a dedicated machine would show if both kept every core busy: "
        + ", ".join(f"{p.name.split(', ')[1]} {passes[0].cpu_ms() / p.cpu_ms():.0%}" for p in passes[1:])
    )
    load = os.getloadavg()
    print(
        f"   load average of the machine at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    total = passes[1].seconds
    stage = stage_seconds.get
    rows = [
        ["S3 read", stage("S3 read", 0.0)],
        ["decode + preprocess (encoder)", stage("encoder", 0.0) - stage("model", 0.0)],
        ["model", stage("model", 0.0)],
        ["thumbnails, beyond the encoder's time", stage("encoder or thumbnails", 0.0) - stage("encoder", 0.0)],
        ["S3 write (thumbnails)", stage("S3 write", 0.0)],
        ["database", stage("database", 0.0)],
    ]
    rows.append(["rest (loop, glue)", total - sum(float(r[1]) for r in rows)])
    print_table(
        f"2b. where the time of '{passes[1].name}' goes (wall time per stage; overlapping calls of a stage count once)",
        ["stage", "seconds", "ms/image", "share"],
        [[name, f"{s:.1f}", f"{s * 1000 / passes[1].images:.1f}", f"{s / total:.0%}"] for name, s in rows],
    )
    print(
        f"   thumbnails took {stage('thumbnails', 0.0):.1f} s in all, "
        f"{stage('thumbnails', 0.0) - float(rows[3][1]):.1f} s of it while the encoder worked"
    )
    if profile_text:
        print(profile_text)
    ok = [p for p in passes[1:] if p.rate / base >= INDEXING_TARGET]
    print(
        f"target indexing ≥ {INDEXING_TARGET:.0%} of the model-only forward pass: "
        + "; ".join(f"{p.name.split(', ')[1]}: {p.rate / base:.0%} → {verdict(p in ok)}" for p in passes[1:])
    )


async def profile_service(service: Callable[[], Awaitable[None]]) -> str:
    """One more pass of the service path under cProfile: the event loop and every worker thread it uses.

    Fresh threads are needed for the thread profiles: the loop gets a new default executor (decode,
    thumbnails) for the pass, and ``threading.setprofile`` starts a profiler in each new thread.
    The model's inference thread predates it and is timed in table 2b instead.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    profiles: list[cProfile.Profile] = []

    def start_thread_profile(frame: Any, event_name: str, arg: Any) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()

    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(thread_name_prefix="profiled")
    loop.set_default_executor(executor)
    threading.setprofile(start_thread_profile)
    main = cProfile.Profile()
    main.enable()
    try:
        await service()
    finally:
        main.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        executor.shutdown(wait=True)
    stats = pstats.Stats(main)
    for profile in profiles:
        stats.add(profile)
    # Idle pool threads waiting for work are not work.
    idle = [key for key in stats.stats if "_queue.SimpleQueue" in key[2] and "get" in key[2]]  # type: ignore[attr-defined]
    for key in idle:
        del stats.stats[key]  # type: ignore[attr-defined]
    stats.total_tt = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    out.write(
        "\n2c. cProfile of one more pass (1 batch at a time): event loop + decode/thumbnail threads, by own time\n"
    )
    stats.sort_stats("tottime").print_stats(18)
    out.write("\n   … and Kartoteka's functions by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(r"kartoteka/(application|infrastructure)", 22)
    return out.getvalue()


# --------------------------------------------------------------------------------------------- main


def run_async(body: Awaitable[None]) -> None:
    async def wrapped() -> None:
        await body

    asyncio.run(wrapped())


def int_list(value: str) -> list[int]:
    return [int(x) for x in value.split(",") if x]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.gallery",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "benchmarks", nargs="*", metavar="BENCHMARK", help=f"any of {', '.join(BENCHMARKS)} (default: all)"
    )
    search = parser.add_argument_group("search")
    search.add_argument("--vectors", type=int, default=100_000, help="gallery size")
    search.add_argument("--dimension", type=int, default=768, help="vector size")
    search.add_argument("--clusters", type=int, default=1000, help="clusters the vectors are drawn around")
    search.add_argument("--queries", type=int, default=200, help="queries, each through every variant")
    search.add_argument("--top-k", type=int, default=10, help="hits per search (and the k of recall@k)")
    search.add_argument(
        "--ef-search", type=int_list, default=[40, 100, 200], help="hnsw.ef_search values, comma-separated"
    )
    search.add_argument("--m", type=int, default=16, help="HNSW m (SqlModelRegistry's default)")
    search.add_argument(
        "--ef-construction", type=int, default=64, help="HNSW ef_construction (SqlModelRegistry's default)"
    )
    search.add_argument(
        "--build-memory",
        type=lambda v: [x.strip() for x in v.split(",") if x.strip()],
        default=["server", "1GB"],
        help="maintenance_work_mem for each index build, in order ('server': the server's own setting, what "
        "the service gets); the searches use the last build",
    )
    search.add_argument("--warmup", type=int, default=10, help="untimed queries through every variant first")
    search.add_argument("--writes", type=int, default=512, help="vectors written per space in 1c")
    search.add_argument("--write-batch", type=int, default=32, help="vectors per transaction in 1c")
    search.add_argument("--seed", type=int, default=4, help="of the vectors and queries")
    search.add_argument("--spectrum-decay", type=float, default=0.5, help="power-law exponent of the spectrum")
    search.add_argument("--shared-mean", type=float, default=0.6, help="weight of the direction all centres share")
    search.add_argument("--spread-min", type=float, default=0.35, help="least within-cluster spread")
    search.add_argument("--spread-max", type=float, default=0.7, help="largest within-cluster spread")
    search.add_argument("--duplicate-noise", type=float, default=0.15, help="noise of near-duplicate queries")
    indexing = parser.add_argument_group("indexing")
    indexing.add_argument("--photos", type=int, default=192, help="augmented scikit-image photos (JPEG)")
    indexing.add_argument("--sketches", type=int, default=64, help="LASA sketches (PNG)")
    indexing.add_argument("--photo-scale", type=float, default=1.0, help="enlarge the source photos first")
    indexing.add_argument("--batch-size", type=int, default=32, help="images per job and per model call")
    indexing.add_argument(
        "--concurrency", type=int_list, default=[1, 2], help="IndexImages jobs at a time (the worker takes 2)"
    )
    indexing.add_argument("--rounds", type=int, default=2, help="passes over the corpus per path")
    indexing.add_argument("--slot", type=int, default=4, help="batches per turn when the paths alternate")
    indexing.add_argument("--device", default="cpu", help="inference device (cpu, cuda)")
    indexing.add_argument("--profile", action="store_true", help="add a cProfile of the service path")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.benchmarks) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.benchmarks = [b for b in BENCHMARKS if b in (args.benchmarks or BENCHMARKS)]
    if args.queries < 2 or args.top_k < 1 or args.vectors <= args.top_k or not args.ef_search:
        parser.error("bad sizes")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    needs = set().union(*(NEEDS[b] for b in args.benchmarks))
    bodies: dict[str, Callable[[Servers, argparse.Namespace], Awaitable[None]]] = {
        "search": bench_search,
        "indexing": bench_indexing,
    }
    started = time.perf_counter()
    print(f"kartoteka gallery benchmarks: {', '.join(args.benchmarks)} on {os.cpu_count()} CPUs; starting servers…")
    with tempfile.TemporaryDirectory(prefix="kartoteka-bench-") as tmp, start_servers(needs, Path(tmp)) as servers:
        for name in args.benchmarks:
            t0 = time.perf_counter()
            run_async(bodies[name](servers, args))
            print(f"({name}: {time.perf_counter() - t0:.0f} s)", flush=True)
    left = leftover_children()
    print(f"\ntotal {time.perf_counter() - started:.0f} s; child processes left running: {left or 'none'}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
