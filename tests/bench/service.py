"""Service benchmarks: job latency, relay throughput, WebSocket fan-out and upload throughput, with baselines.

    python -m tests.bench.service [latency] [relay] [fanout] [submit] [--profile] [options]   # none named: all four

Every run starts the real servers it needs through the test harness (PostgreSQL+pgvector, Redis, RabbitMQ,
S3) on free loopback ports, gives each benchmark its own freshly migrated database, and stops everything
before it exits (it then checks that no child process of its own is left). Each benchmark measures a
baseline in the same run, on the same servers, and prints its figures as a table with the ratio to that
baseline, next to the target from the service issue.

1. ``latency`` — submit → worker-start: a task committed through ``SqlUnitOfWork`` exactly as the api does
   (task row + outbox rows, one transaction), delivered by the real ``OutboxRelay`` to the real TaskIQ
   RabbitMQ broker (plus Redis status and the RabbitMQ integration exchange, as ``run_relay`` wires them),
   until a worker-side broker's ``listen()`` yields the job. Relay variants: NOTIFY with a long poll (so every
   wake-up is the NOTIFY's), NOTIFY with ``run_relay``'s default 1 s poll, and the baseline: no LISTEN, 1 s
   poll (the reference design).
2. ``relay`` — outbox throughput: 50,000 ``status`` rows bulk-inserted, then ``drain_once`` in a loop until
   empty, publishing to real Redis pub/sub, for several batch sizes; the baseline is the reference design
   (1,000 rows per poll, one poll a second). ``--profile`` adds a cProfile of the drain loop.
3. ``fanout`` — the api (uvicorn, as ``kartoteka api`` runs it) with 1,000 WebSockets each subscribed to its
   own task; ``task.status`` events published on ``kartoteka:status`` are timed from publish to receipt on
   each socket, paced, as a burst, and as one event to every socket; api RSS is read before, during, after.
4. ``submit`` — ``POST /api/recognition/tasks`` with a ~200 KB JPEG from 32 concurrent clients against the
   same api over real PostgreSQL, S3 and Redis; the baseline is one client, sequential.

The api runs in a child process (started exactly like ``kartoteka api``: ``uvicorn.run``-equivalent, uvloop
and httptools when installed) so that its RSS is its own and the 1,000 client sockets or 32 upload clients
do not share its event loop; clients run under uvloop when available, to keep the measuring side cheap.
The relay and the job consumer run in this process under plain ``asyncio.run``, as ``kartoteka relay`` and
``kartoteka worker`` do. On a small machine the servers, the api and the clients share the same cores, so
figures are pessimistic for production, and noisy: compare them with the baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import inspect
import io
import json
import math
import os
import pstats
import random
import resource
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.outbox_messages import INTEGRATION, JOBS, messages_for
from kartoteka.application.shared.live_messages import Channel
from kartoteka.application.shared.outbox import MessagePublisher, OutboundMessage
from kartoteka.domain.recognition.task import CardImage, RecognitionTask
from kartoteka.infrastructure.clock import utc_now
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.engine import create_engine, listen_dsn
from kartoteka.infrastructure.db.migrate import upgrade
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.messaging.relay import OutboxRelay, RelayPolicy
from kartoteka.runtime.serve import API_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ("latency", "relay", "fanout", "submit")
NEEDS: dict[str, set[str]] = {
    "latency": {"postgres", "redis", "rabbitmq"},
    "relay": {"postgres", "redis"},
    "fanout": {"postgres", "redis"},
    "submit": {"postgres", "redis", "s3"},
}
IMAGE = CardImage(
    key="cards/bench/original.jpg", filename="card.jpg", content_type="image/jpeg", size=1, width=1, height=1
)
T = TypeVar("T")


# --------------------------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def ratio(value: float, baseline: float) -> str:
    if math.isnan(value) or math.isnan(baseline) or value == 0 or baseline == 0:
        return "-"
    return f"{value / baseline:.1f}×"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)))
    print(line)
    for row in cells[1:]:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    sys.stdout.flush()


def verdict(reached: bool) -> str:
    return "reached" if reached else "NOT reached"


# --------------------------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class Servers:
    """The harness's servers this run started (None where no selected benchmark needs one)."""

    postgres: Any
    redis: Any
    rabbitmq: Any | None
    s3: Any | None


@contextmanager
def start_servers(needs: set[str], workdir: Path) -> Iterator[Servers]:
    """Start the servers in ``needs`` through the harness's public entry points; all stop on exit."""
    from tests.harness.postgres import running_postgres
    from tests.harness.rabbitmq import running_rabbitmq
    from tests.harness.redis import running_redis
    from tests.harness.s3 import running_s3

    with ExitStack() as stack:
        started: dict[str, Any] = {}
        for name, start in (
            ("postgres", running_postgres),
            ("redis", running_redis),
            ("rabbitmq", running_rabbitmq),
            ("s3", running_s3),
        ):
            if name in needs:
                t0 = time.perf_counter()
                started[name] = stack.enter_context(start(workdir / name))
                print(f"  {name} up in {time.perf_counter() - t0:.1f} s", flush=True)
        yield Servers(started["postgres"], started["redis"], started.get("rabbitmq"), started.get("s3"))


async def fresh_database(postgres: Any, prefix: str) -> str:
    """A new database on the harness's PostgreSQL, migrated to head; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(postgres.dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = str(postgres.url).rsplit("/", 1)[0] + "/" + name
    await asyncio.to_thread(upgrade, url)
    return url


def service_settings(servers: Servers, database_url: str) -> Settings:
    values: dict[str, Any] = {"database": {"url": database_url}, "redis": {"url": servers.redis.url}}
    if servers.rabbitmq is not None:
        values["broker"] = {"url": servers.rabbitmq.url}
    if servers.s3 is not None:
        s3 = servers.s3
        values["s3"] = {
            "endpoint": s3.endpoint,
            "access_key": s3.access_key,
            "secret_key": s3.secret_key,
            "region": s3.region,
            "bucket": f"bench-{uuid.uuid4().hex[:8]}",
        }
    return Settings.model_validate(values)


async def submit_task(engine: AsyncEngine) -> RecognitionTask:
    """Queue one task the way SubmitCards does: task row and its outbox rows in one transaction."""
    task = RecognitionTask.submit(uuid.uuid4(), IMAGE, utc_now())
    async with SqlUnitOfWork(engine, messages_for) as uow:
        await uow.tasks.add(task)
        await uow.commit()
    return task


async def within(deadline: float, awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, max(0.001, deadline - time.perf_counter()))


# --------------------------------------------------------------------------------------------- 1. latency


class JobArrivals:
    """The worker side: a TaskIQ broker on the recognition queue, noting when each job's message arrives.

    It stands in for ``kartoteka worker`` up to the point where the job would start: the message is
    taken from the queue and decoded, then acknowledged (no recognition runs).
    """

    def __init__(self, broker: Any) -> None:
        self._broker = broker
        self.at: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def consume(self) -> None:
        from taskiq import AckableMessage

        async for message in self._broker.listen():
            arrived = time.perf_counter()
            data = message.data if isinstance(message, AckableMessage) else message
            parsed = self._broker.formatter.loads(data)
            self.at[str(parsed.args[0])] = arrived
            if isinstance(message, AckableMessage):
                ack = message.ack()
                if inspect.isawaitable(ack):
                    await ack
            self.changed.set()

    async def wait_for(self, ids: Collection[str], deadline: float) -> None:
        while any(i not in self.at for i in ids) and time.perf_counter() < deadline:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await within(deadline, self.changed.wait())


@dataclass
class LatencyResult:
    name: str
    total: list[float] = field(default_factory=list)  # unit of work opened → job received
    after_commit: list[float] = field(default_factory=list)  # commit returned (api would answer) → received
    commit: list[float] = field(default_factory=list)
    lost: int = 0


async def latency_variant(
    name: str, settings: Settings, policy: RelayPolicy, listen: bool, samples: int, gap_ms: tuple[float, float]
) -> LatencyResult:
    """One relay configuration: ``samples`` submissions, open loop, a seeded random ``gap_ms`` apart."""
    from redis.asyncio import Redis

    from kartoteka.infrastructure.messaging.jobs import TaskiqJobPublisher, make_broker
    from kartoteka.infrastructure.messaging.rabbit_publisher import RabbitIntegrationPublisher
    from kartoteka.infrastructure.messaging.redis_publisher import RedisChannelPublisher

    assert settings.broker.url is not None
    api_engine = create_engine(settings.database)  # the api's pool
    relay_engine = create_engine(settings.database)  # the relay process's own pool
    redis = Redis.from_url(settings.redis.url)
    worker = make_broker(settings.broker, settings.redis.url)
    worker.is_worker_process = True
    sender = make_broker(settings.broker, settings.redis.url)
    integration = RabbitIntegrationPublisher(settings.broker.url)
    channels = RedisChannelPublisher(redis)
    publishers: dict[str, MessagePublisher] = {
        JOBS: TaskiqJobPublisher(sender),
        Channel.STATUS: channels,
        Channel.CANCELLATIONS: channels,
        INTEGRATION: integration,
    }
    relay = OutboxRelay(
        relay_engine, publishers, policy, listen_dsn=listen_dsn(settings.database.url) if listen else None
    )
    stop = asyncio.Event()
    arrivals = JobArrivals(worker)
    result = LatencyResult(name)
    await worker.startup()
    await sender.startup()
    consumer = asyncio.create_task(arrivals.consume())
    runner = asyncio.create_task(relay.run(stop))
    try:
        if listen:
            await asyncio.wait_for(relay.listening.wait(), 10)
        # Warm-up: connection pools, the integration publisher's lazy connection, queue declarations.
        warm = [str((await submit_task(api_engine)).id) for _ in range(3)]
        await arrivals.wait_for(warm, time.perf_counter() + policy.poll_interval_s + 10)
        rng = random.Random(1234)
        sent: dict[str, tuple[float, float]] = {}
        for _ in range(samples):
            t0 = time.perf_counter()
            task = await submit_task(api_engine)
            sent[str(task.id)] = (t0, time.perf_counter())
            await asyncio.sleep(rng.uniform(*gap_ms) / 1000)
        await arrivals.wait_for(sent, time.perf_counter() + policy.poll_interval_s + 15)
        for task_id, (t0, t1) in sent.items():
            arrived = arrivals.at.get(task_id)
            if arrived is None:
                result.lost += 1
                continue
            result.total.append(arrived - t0)
            result.after_commit.append(arrived - t1)
            result.commit.append(t1 - t0)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, 30)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await consumer
        await integration.close()
        await sender.shutdown()
        await worker.shutdown()
        await redis.aclose()
        await api_engine.dispose()
        await relay_engine.dispose()
    return result


async def bench_latency(servers: Servers, args: argparse.Namespace) -> None:
    """Submit → worker-start latency with NOTIFY against the 1 s poll of the reference design.

    Submissions are open loop (the next one does not wait for the previous job), spaced 20–50 ms so the
    NOTIFY variants see one task per wake-up; the polling baseline necessarily batches everything that
    arrived within its second. The clock starts when the api's unit of work opens (so the commit itself
    is included) and stops when the worker-side broker yields the message. Target: p50 ≤ 50 ms with NOTIFY.

    With ``--gap-min-ms 0 --gap-max-ms 8`` (submissions close together) the first variant also shows
    whether a NOTIFY that arrives while a drain is under way can be lost: such a task then waits for the
    poll (≈ ``--notify-poll`` seconds) unless a later submission wakes the relay.
    """
    settings = service_settings(servers, await fresh_database(servers.postgres, "bench_latency"))
    gap = (args.gap_min_ms, args.gap_max_ms)
    variants = [
        (f"NOTIFY, poll {args.notify_poll:g} s", RelayPolicy(poll_interval_s=args.notify_poll), True),
        ("NOTIFY, poll 1 s (run_relay default)", RelayPolicy(), True),
        ("baseline: no LISTEN, poll 1 s", RelayPolicy(poll_interval_s=1.0), False),
    ]
    results = []
    for name, policy, listen in variants:
        print(f"  latency: {name} ({args.samples} submissions)…", flush=True)
        results.append(await latency_variant(name, settings, policy, listen, args.samples, gap))
    base = results[-1]
    print_table(
        "1. submit → worker-start latency, ms (unit of work opened → job message received by the worker broker)",
        ["relay", "n", "lost", "p50", "p90", "p99", "max", "p50 after commit", "commit p50", "p50 vs baseline"],
        [
            [
                r.name,
                len(r.total),
                r.lost,
                ms(percentile(r.total, 50)),
                ms(percentile(r.total, 90)),
                ms(percentile(r.total, 99)),
                ms(max(r.total, default=math.nan)),
                ms(percentile(r.after_commit, 50)),
                ms(percentile(r.commit, 50)),
                ratio(percentile(base.total, 50), percentile(r.total, 50)) + " faster" if r is not base else "1.0×",
            ]
            for r in results
        ],
    )
    p50 = percentile(results[0].total, 50)
    print(f"target p50 ≤ 50 ms with NOTIFY: {ms(p50)} ms → {verdict(p50 <= 0.050)}")
    slow = [x for x in results[0].total if x > 0.5]
    if slow:
        print(
            f"note: {len(slow)} of {len(results[0].total)} NOTIFY samples took > 500 ms "
            f"(max {ms(max(slow))} ms): woken by the poll, not by their NOTIFY"
        )


# --------------------------------------------------------------------------------------------- 2. relay

FILL = text(
    """
    INSERT INTO outbox (destination, key, payload)
    SELECT 'status', t.id::text,
           jsonb_build_object('type', 'task.status', 'task_id', t.id::text, 'attempt', 1,
                              'status', 'completed', 'at', now())
    FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, :n)) AS t
    """
)


class TimedPublisher:
    """Wraps a publisher to split a drain's time into publishing and the rest (the database)."""

    def __init__(self, inner: MessagePublisher) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.messages = 0

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        t0 = time.perf_counter()
        await self.inner.publish(messages)
        self.seconds += time.perf_counter() - t0
        self.messages += len(messages)


@dataclass
class DrainResult:
    name: str
    rows: int
    drains: int
    seconds: float
    publish_seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else math.nan


async def refill(engine: AsyncEngine, dsn: str, rows: int) -> None:
    """Vacuum away the previous run's dead rows, bulk-insert ``rows`` status rows, analyse."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM outbox")
    finally:
        await conn.close()
    async with engine.begin() as db:
        await db.execute(FILL, {"n": rows})
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ANALYZE outbox")
    finally:
        await conn.close()


async def drain(
    name: str, engine: AsyncEngine, publisher: MessagePublisher, batch: int, cycle_s: float | None, limit_s: float
) -> DrainResult:
    """``drain_once`` until it finds nothing; with ``cycle_s``, at most one drain per cycle (the reference)."""
    timed = TimedPublisher(publisher)
    relay = OutboxRelay(engine, {Channel.STATUS: timed}, RelayPolicy(batch_size=batch))
    rows = drains = 0
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        cycle = time.perf_counter()
        claimed = await relay.drain_once()
        if claimed == 0:
            break
        rows += claimed
        drains += 1
        if cycle_s is not None:
            await asyncio.sleep(max(0.0, cycle_s - (time.perf_counter() - cycle)))
    else:
        print(f"  relay: {name} stopped after {limit_s:.0f} s with rows left", flush=True)
    return DrainResult(name, rows, drains, time.perf_counter() - start, timed.seconds)


async def bench_relay(servers: Servers, args: argparse.Namespace) -> None:
    """Outbox → Redis pub/sub throughput of ``OutboxRelay.drain_once``, against the reference's 1,000/s cap.

    The outbox is filled with ``--rows`` realistic ``status`` rows in one INSERT … SELECT (the fill is not
    timed), then drained as fast as ``drain_once`` goes, with the real ``RedisChannelPublisher`` on real
    Redis: this is what ``OutboxRelay.run`` does while batches come back full. The clock stops when a
    drain finds the outbox empty. The baseline reproduces the reference design: one poll a second taking
    at most 1,000 rows; it drains ``--baseline-rows`` (its rate does not depend on the count). The
    "publish" column is the share of time spent inside the publisher; the rest is PostgreSQL (claim,
    delete, commit) and the relay's own Python. Target: ≥ 3,000 events/s.
    """
    from redis.asyncio import Redis

    from kartoteka.infrastructure.messaging.redis_publisher import RedisChannelPublisher

    url = await fresh_database(servers.postgres, "bench_relay")
    dsn = listen_dsn(url)
    engine = create_engine(Settings.model_validate({"database": {"url": url}}).database)
    redis = Redis.from_url(servers.redis.url)
    publisher = RedisChannelPublisher(redis)
    results: list[DrainResult] = []
    try:
        for batch in args.batch_sizes:
            await refill(engine, dsn, args.rows)
            print(f"  relay: batch {batch}, {args.rows} rows…", flush=True)
            results.append(await drain(f"drain_once, batch {batch}", engine, publisher, batch, None, 300))
        await refill(engine, dsn, args.baseline_rows)
        print(f"  relay: baseline, {args.baseline_rows} rows at one poll a second…", flush=True)
        base = await drain("baseline: 1,000 per 1 s poll", engine, publisher, 1000, 1.0, 300)
        results.append(base)
        print_table(
            "2. relay throughput, outbox → Redis pub/sub (status rows)",
            ["relay", "rows", "drains", "seconds", "events/s", "ms/drain", "publish", "vs baseline"],
            [
                [
                    r.name,
                    r.rows,
                    r.drains,
                    f"{r.seconds:.2f}",
                    f"{r.rate:,.0f}",
                    f"{r.seconds / max(1, r.drains) * 1000:.1f}" if r is not base else "(1 s cycle)",
                    f"{r.publish_seconds / r.seconds:.0%}" if r.seconds else "-",
                    ratio(r.rate, base.rate),
                ]
                for r in results
            ],
        )
        best = max(results[:-1], key=lambda r: r.rate, default=None)
        if best is not None:
            print(f"target ≥ 3,000 events/s: best {best.rate:,.0f}/s ({best.name}) → {verdict(best.rate >= 3000)}")
        if args.profile:
            batch = 500 if 500 in args.batch_sizes else args.batch_sizes[0]
            await refill(engine, dsn, args.profile_rows)
            profiler = cProfile.Profile()
            profiler.enable()
            profiled = await drain(f"profiled, batch {batch}", engine, publisher, batch, None, 300)
            profiler.disable()
            print(f"\ncProfile of drain_once loops, batch {batch}: {profiled.rows} rows in {profiled.seconds:.2f} s")
            for key in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(25)
                body = out.getvalue()
                print(f"-- top 25 by {key} --\n{body[body.find('ncalls') :].rstrip()}")
    finally:
        await redis.aclose()
        await engine.dispose()


# --------------------------------------------------------------------------------------------- the api process


def serve_api_child() -> None:
    """Child-process entry: read Settings JSON on stdin, serve the api like ``kartoteka api``, print the port.

    The socket is bound here on 127.0.0.1 port 0 and handed to uvicorn, so the port is never raced; the
    parent waits for ``/health`` before using it. SIGTERM stops uvicorn gracefully (lifespan shutdown
    closes the container).
    """
    import uvicorn

    from kartoteka.di import api_container
    from kartoteka.presentation.http.app import create_app

    settings = Settings.model_validate_json(sys.stdin.read())
    app = create_app(api_container(settings))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=settings.api.ws_per_message_deflate,
    )
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class ApiProcess:
    pid: int
    base: str

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")

    def rss_mib(self) -> float:
        return read_rss_mib(self.pid)

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def cpu_seconds(self) -> float:
        """User + system CPU time of the api process so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def settings_json(settings: Settings) -> str:
    """The settings for the child process with secrets in clear (``model_dump_json`` would mask them)."""

    def reveal(value: object) -> str:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    return json.dumps(settings.model_dump(), default=reveal)


@contextlib.asynccontextmanager
async def api_process(settings: Settings) -> Any:
    """Start the api in a child process; yields an ``ApiProcess``; stops it (by its pid) on exit."""
    import httpx

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from tests.bench.service import serve_api_child; serve_api_child()",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **API_ENVIRONMENT},  # as ``kartoteka serve`` runs the api
    )
    try:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(settings_json(settings).encode())
        proc.stdin.close()
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line.strip():
            raise RuntimeError("the api process exited before printing its port")
        api = ApiProcess(proc.pid, f"http://127.0.0.1:{int(line)}")
        deadline = time.perf_counter() + 60
        async with httpx.AsyncClient(base_url=api.base, timeout=5) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/health")).status_code == 200:
                        break
                if proc.returncode is not None or time.perf_counter() > deadline:
                    raise RuntimeError("the api process did not become healthy")
                await asyncio.sleep(0.1)
        yield api
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


# --------------------------------------------------------------------------------------------- 3. fan-out


@dataclass
class Delivery:
    name: str
    latencies: list[float]
    expected: int
    publish_s: float

    @property
    def lost(self) -> int:
        return self.expected - len(self.latencies)


async def await_frame(ws: Any, task_id: str, status: str, deadline: float) -> float:
    """Read frames until the ``task.status`` frame for ``task_id`` with ``status``; returns its arrival time."""
    while True:
        frame = json.loads(await within(deadline, ws.recv()))
        if frame.get("type") == "task.status" and frame.get("task_id") == task_id and frame.get("status") == status:
            return time.perf_counter()


def status_event(task_id: str, status: str) -> str:
    """The body ``messages_for`` produces for a status change, as the relay publishes it."""
    return json.dumps(
        {"type": "task.status", "task_id": task_id, "attempt": 1, "status": status, "at": utc_now().isoformat()}
    )


async def deliver(
    name: str,
    sockets: Sequence[Any],
    watched: Sequence[str],
    status: str,
    publish: Callable[[], Awaitable[dict[str, float]]],
    timeout_s: float,
) -> Delivery:
    """Arm a reader on every socket, run ``publish`` (returns publish time per task id), time each receipt."""
    deadline = time.perf_counter() + timeout_s
    readers = [
        asyncio.create_task(await_frame(ws, task_id, status, deadline))
        for ws, task_id in zip(sockets, watched, strict=True)
    ]
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    published = await publish()
    publish_s = time.perf_counter() - t0
    done = await asyncio.gather(*readers, return_exceptions=True)
    latencies = [
        arrived - published[task_id]
        for arrived, task_id in zip(done, watched, strict=True)
        if isinstance(arrived, float)
    ]
    return Delivery(name, latencies, len(sockets), publish_s)


async def bench_fanout(servers: Servers, args: argparse.Namespace) -> None:
    """1,000 WebSockets on the api, each subscribed to its own task: publish → receipt latency and api RSS.

    The tasks are created first through ``SqlUnitOfWork`` (one transaction). Sockets connect (50 at a time)
    and each sends ``{"op":"subscribe","tasks":[own, shared]}`` and waits for its snapshot. Then, over the
    same sockets, ``task.status`` events (the relay's body) are published on ``kartoteka:status``:

    - paced: one event per task at ``--fanout-rate`` events/s, each timed from its own PUBLISH;
    - burst: one event per task in a single pipeline (a relay draining a backlog does this), each timed
      from the moment the pipeline was sent — the hub takes the events that have arrived together as one
      burst and reads their snapshots with one query;
    - shared: one event for the task every socket watches, timed on all 1,000 sockets (true fan-out).

    Api RSS (VmRSS of the child) and open file descriptors are read after a warm-up, with the sockets
    open, and 3 s after they all closed; then ``--memory-rounds`` more rounds of open/subscribe/close tell
    memory the process keeps at its high-water mark (stable across rounds) from a leak (grows each round).
    Target: p99 ≤ 250 ms.
    """
    import websockets
    from redis import Redis as SyncRedis
    from redis.asyncio import Redis

    settings = service_settings(servers, await fresh_database(servers.postgres, "bench_fanout"))
    engine = create_engine(settings.database)
    n = args.sockets
    async with SqlUnitOfWork(engine, messages_for) as uow:
        tasks = [RecognitionTask.submit(uuid.uuid4(), IMAGE, utc_now()) for _ in range(n + 1)]
        for task in tasks:
            await uow.tasks.add(task)
        await uow.commit()
    async with engine.begin() as db:
        await db.execute(text("DELETE FROM outbox"))  # no relay here; keep the table empty
    await engine.dispose()
    ids = [str(t.id) for t in tasks[:n]]
    shared = str(tasks[n].id)
    redis = Redis.from_url(settings.redis.url)
    channel = "kartoteka:status"

    async def connect(url: str, task_ids: list[str]) -> Any:
        ws = await websockets.connect(url, open_timeout=30, ping_interval=None, max_size=2**22)
        await ws.send(json.dumps({"op": "subscribe", "tasks": task_ids}))
        while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("type") != "snapshot":
            pass
        return ws

    async def close_all(sockets: Sequence[Any]) -> None:
        for i in range(0, len(sockets), 100):
            await asyncio.gather(*(ws.close() for ws in sockets[i : i + 100]), return_exceptions=True)

    async def open_all(url: str) -> tuple[list[Any], list[str], float]:
        gate = asyncio.Semaphore(50)

        async def gated(task_id: str) -> Any:
            async with gate:
                return await connect(url, [task_id, shared])

        t0 = time.perf_counter()
        opened = await asyncio.gather(*(gated(i) for i in ids), return_exceptions=True)
        seconds = time.perf_counter() - t0
        failures = [ws for ws in opened if isinstance(ws, BaseException)]
        if failures:
            print(f"  fanout: {len(failures)} sockets failed to open, e.g. {failures[0]!r}", flush=True)
        pairs = [(ws, ids[i]) for i, ws in enumerate(opened) if not isinstance(ws, BaseException)]
        return [ws for ws, _ in pairs], [task_id for _, task_id in pairs], seconds

    memory: list[tuple[str, float, int]] = []
    try:
        async with api_process(settings) as api:

            def note(label: str) -> None:
                memory.append((label, api.rss_mib(), api.open_fds()))

            url = api.ws + "/api/ws"
            warm = [await connect(url, [ids[i], shared]) for i in range(10)]  # starts the hub's subscription
            await close_all(warm)
            for _ in range(100):
                numsub = await redis.pubsub_numsub(channel)
                if numsub and numsub[0][1] >= 1:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(2)
            note("before connecting (after a 10-socket warm-up)")
            print(f"  fanout: opening {n} sockets…", flush=True)
            sockets, watched, connect_s = await open_all(url)
            await asyncio.sleep(1)
            note(f"{len(sockets)} sockets open, subscribed")

            async def paced() -> dict[str, float]:
                at: dict[str, float] = {}
                interval = 1.0 / args.fanout_rate
                start = time.perf_counter()
                for k, task_id in enumerate(watched):
                    await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
                    at[task_id] = time.perf_counter()
                    await redis.publish(channel, status_event(task_id, "running"))
                return at

            async def burst() -> dict[str, float]:
                # Published from a thread with its own connection, as the relay would from its own process:
                # on this loop, writing 1,000 commands would hold up the sockets' receipts it is timing.
                def publish_all() -> float:
                    sync = SyncRedis.from_url(settings.redis.url)
                    try:
                        pipe = sync.pipeline(transaction=False)
                        for task_id in watched:
                            pipe.publish(channel, status_event(task_id, "completed"))
                        sent = time.perf_counter()
                        pipe.execute()
                        return sent
                    finally:
                        sync.close()

                return dict.fromkeys(watched, await asyncio.to_thread(publish_all))

            async def one_for_all() -> dict[str, float]:
                sent = time.perf_counter()
                await redis.publish(channel, status_event(shared, "completed"))
                return {shared: sent}

            print(f"  fanout: paced at {args.fanout_rate:g}/s, burst, shared…", flush=True)
            results = [
                await deliver(
                    f"paced, {args.fanout_rate:g} events/s",
                    sockets,
                    watched,
                    "running",
                    paced,
                    n / args.fanout_rate + 60,
                ),
                await deliver(f"burst of {len(watched)} (one pipeline)", sockets, watched, "completed", burst, 120),
                await deliver(
                    "shared task: 1 event → every socket",
                    sockets,
                    [shared] * len(sockets),
                    "completed",
                    one_for_all,
                    60,
                ),
            ]
            note(f"{len(sockets)} sockets open, after the events")
            await close_all(sockets)
            await asyncio.sleep(3)
            note("3 s after closing them all")
            # More rounds tell a leak (keeps growing) from memory the process keeps at its high-water mark.
            for k in range(args.memory_rounds):
                print(f"  fanout: memory round {k + 2}: {n} sockets open, subscribe, close…", flush=True)
                again, _, _ = await open_all(url)
                await asyncio.sleep(1)
                note(f"round {k + 2}: {len(again)} sockets open")
                await close_all(again)
                await asyncio.sleep(3)
                note(f"round {k + 2}: 3 s after closing")
    finally:
        await redis.aclose()

    print_table(
        f"3. WebSocket fan-out: {len(sockets)} sockets open ({connect_s:.1f} s to connect and subscribe), "
        "publish → receipt, ms",
        ["events", "received", "lost", "p50", "p90", "p99", "max", "publish took"],
        [
            [
                r.name,
                len(r.latencies),
                r.lost,
                ms(percentile(r.latencies, 50)),
                ms(percentile(r.latencies, 90)),
                ms(percentile(r.latencies, 99)),
                ms(max(r.latencies, default=math.nan)),
                ms(r.publish_s),
            ]
            for r in results
        ],
    )
    base_rss = memory[0][1]
    print_table(
        "   api process memory",
        ["moment", "VmRSS MiB", "vs before", "open fds"],
        [[label, f"{rss:.1f}", f"{rss - base_rss:+.1f}", fds] for label, rss, fds in memory],
    )
    print(f"   ≈ {(memory[1][1] - base_rss) * 1024 / max(1, len(sockets)):.0f} KiB of api RSS per open socket")
    for r in results:
        p99 = percentile(r.latencies, 99)
        print(f"target p99 ≤ 250 ms, {r.name}: {ms(p99)} ms → {verdict(p99 <= 0.250 and r.lost == 0)}")
    opened_mib = memory[1][1] - base_rss
    after = memory[3][1]
    print(
        f"memory back near baseline after closing: {after - base_rss:+.1f} MiB "
        f"→ {verdict(after - base_rss <= 0.2 * opened_mib)}"
    )
    if args.memory_rounds >= 2:
        last, previous = memory[-1][1], memory[-3][1]
        kind = (
            "levelling off: memory kept at a high-water mark, not a per-connection leak"
            if last - previous < 0.05 * opened_mib
            else "still growing by a large share each round: suspect a leak"
        )
        print(
            f"after {args.memory_rounds} more rounds: {last - after:+.1f} MiB in all, "
            f"last round {last - previous:+.1f} MiB → {kind}"
        )


# --------------------------------------------------------------------------------------------- 4. submit


def noisy_jpeg(target_bytes: int = 200_000) -> tuple[bytes, int, int]:
    """A card-like noisy greyish JPEG whose size is within a few per cent of ``target_bytes``."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    width = 400
    data = b""
    for _ in range(12):
        height = int(width * 0.65)
        pixels = rng.normal(205, 35, (height, width, 3)).clip(0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buf, format="JPEG", quality=85)
        data = buf.getvalue()
        if abs(len(data) - target_bytes) <= target_bytes * 0.03:
            break
        width = max(64, int(width * math.sqrt(target_bytes / len(data))))
    return data, width, int(width * 0.65)


@dataclass
class SubmitResult:
    name: str
    clients: int
    latencies: list[float]
    errors: int
    seconds: float
    api_cpu_s: float = math.nan

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else math.nan


async def submit_load(base: str, image: bytes, clients: int, requests: int, name: str) -> SubmitResult:
    """``requests`` uploads shared by ``clients`` workers, each sending its next request as soon as one ends."""
    import httpx

    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            try:
                response = await client.post(
                    "/api/recognition/tasks", files=[("images", ("card.jpg", image, "image/jpeg"))]
                )
                ok = response.status_code == 202
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        seconds = time.perf_counter() - start
    return SubmitResult(name, clients, latencies, errors, seconds)


async def bench_submit(servers: Servers, args: argparse.Namespace) -> None:
    """Upload throughput of ``POST /api/recognition/tasks`` (one ~200 KB JPEG per request).

    Each request goes the whole way: multipart parsing, full decode of the JPEG in a thread (the inspector),
    PUT to S3, and the task + outbox rows committed to PostgreSQL. No relay runs, so the outbox only grows.
    After a warm-up (bucket, pools), the baseline sends ``--sequential-requests`` one after the other from
    one client; then ``--concurrency`` clients share ``--requests`` uploads. Figures: requests/s, p50/p99
    latency, the speed-up over sequential, and the api process's CPU (share of one core, and per request):
    near 100 % means its single event loop, not the servers, is what limits the rate.
    """
    settings = service_settings(servers, await fresh_database(servers.postgres, "bench_submit"))
    image, width, height = noisy_jpeg()
    async with api_process(settings) as api:
        warm = await submit_load(api.base, image, 4, 16, "warm-up")
        if warm.errors:
            print(f"  submit: {warm.errors} warm-up requests failed", flush=True)
        print(f"  submit: 1 client × {args.sequential_requests} requests…", flush=True)
        cpu = api.cpu_seconds()
        base = await submit_load(api.base, image, 1, args.sequential_requests, "baseline: 1 client, sequential")
        base.api_cpu_s, cpu = api.cpu_seconds() - cpu, api.cpu_seconds()
        print(f"  submit: {args.concurrency} clients × {args.requests} requests…", flush=True)
        load = await submit_load(
            api.base, image, args.concurrency, args.requests, f"{args.concurrency} concurrent clients"
        )
        load.api_cpu_s = api.cpu_seconds() - cpu
    print_table(
        f"4. submit throughput: POST /api/recognition/tasks, one {len(image) / 1000:.0f} KB JPEG "
        f"({width}×{height}) per request",
        [
            "clients",
            "requests",
            "errors",
            "seconds",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "api CPU",
            "CPU/req",
            "vs baseline",
        ],
        [
            [
                r.name,
                len(r.latencies),
                r.errors,
                f"{r.seconds:.2f}",
                f"{r.rate:.1f}",
                ms(percentile(r.latencies, 50)),
                ms(percentile(r.latencies, 99)),
                f"{r.api_cpu_s / r.seconds:.0%}",
                f"{r.api_cpu_s / max(1, len(r.latencies) + r.errors) * 1000:.1f} ms",
                ratio(r.rate, base.rate),
            ]
            for r in (base, load)
        ],
    )


# --------------------------------------------------------------------------------------------- main


def raise_fd_limit(wanted: int) -> None:
    """1,000 client sockets here plus the api's in its child: lift the soft limit toward the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def leftover_children() -> list[str]:
    """Processes whose parent is this one (servers are stopped by the harness; nothing should remain)."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[1] == me:
                found.append(stat.parent.name)
    return found


def run_async(body: Awaitable[None], fast_loop: bool) -> None:
    """Run one benchmark in a fresh event loop; uvloop for the client-side benchmarks when installed."""

    async def wrapped() -> None:
        await body

    if fast_loop:
        with contextlib.suppress(ImportError):
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(wrapped())
            return
    asyncio.run(wrapped())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.service", description=__doc__.split("\n")[0])
    parser.add_argument(
        "benchmarks", nargs="*", metavar="BENCHMARK", help=f"any of {', '.join(BENCHMARKS)} (default: all)"
    )
    parser.add_argument("--samples", type=int, default=200, help="latency: submissions per relay variant")
    parser.add_argument("--gap-min-ms", type=float, default=20.0, help="latency: least gap between submissions")
    parser.add_argument("--gap-max-ms", type=float, default=50.0, help="latency: largest gap between submissions")
    parser.add_argument("--notify-poll", type=float, default=5.0, help="latency: poll interval of the NOTIFY relay")
    parser.add_argument("--rows", type=int, default=50_000, help="relay: outbox rows per batch size")
    parser.add_argument("--batch-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[100, 500, 1000])
    parser.add_argument("--baseline-rows", type=int, default=10_000, help="relay: rows for the 1 s poll baseline")
    parser.add_argument("--profile", action="store_true", help="relay: also cProfile the drain loop")
    parser.add_argument("--profile-rows", type=int, default=20_000, help="relay: rows drained under cProfile")
    parser.add_argument("--sockets", type=int, default=1000, help="fanout: WebSocket connections")
    parser.add_argument("--memory-rounds", type=int, default=3, help="fanout: extra open/close rounds for RSS")
    parser.add_argument("--fanout-rate", type=float, default=200.0, help="fanout: events/s in the paced round")
    parser.add_argument("--requests", type=int, default=640, help="submit: uploads under concurrency")
    parser.add_argument("--concurrency", type=int, default=32, help="submit: concurrent clients")
    parser.add_argument("--sequential-requests", type=int, default=64, help="submit: uploads for the baseline")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.benchmarks) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.benchmarks = [b for b in BENCHMARKS if b in (args.benchmarks or BENCHMARKS)]
    if args.gap_min_ms > args.gap_max_ms or args.samples < 1 or args.sockets < 1 or args.fanout_rate <= 0:
        parser.error("bad sizes")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit(4 * args.sockets + 1024)
    needs = set().union(*(NEEDS[b] for b in args.benchmarks))
    bodies: dict[str, Callable[[Servers, argparse.Namespace], Awaitable[None]]] = {
        "latency": bench_latency,
        "relay": bench_relay,
        "fanout": bench_fanout,
        "submit": bench_submit,
    }
    started = time.perf_counter()
    print(f"kartoteka service benchmarks: {', '.join(args.benchmarks)} on {os.cpu_count()} CPUs; starting servers…")
    with tempfile.TemporaryDirectory(prefix="kartoteka-bench-") as tmp, start_servers(needs, Path(tmp)) as servers:
        for name in args.benchmarks:
            t0 = time.perf_counter()
            run_async(bodies[name](servers, args), fast_loop=name in {"fanout", "submit"})
            print(f"({name}: {time.perf_counter() - t0:.0f} s)", flush=True)
    left = leftover_children()
    print(f"\ntotal {time.perf_counter() - started:.0f} s; child processes left running: {left or 'none'}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
