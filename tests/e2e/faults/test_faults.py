"""Faults during a run of 30 cards: every card ends completed, read once, and nothing is lost or left over.

api, relay and worker run as separate processes (``kartoteka api|relay|worker``) over this module's own
PostgreSQL, S3, Valkey and RabbitMQ, which the scenarios stop and start again. A client submits the cards
three per request with an ``Idempotency-Key`` each, and, as a careful client does, sends a request again
with the same key until it gets an answer. Each scenario injects one fault while cards are being read:

- a process of ours is SIGKILLed (worker mid-job, relay, api while the client submits) and started again;
- a server goes away (RabbitMQ restarted, Valkey down 20 s, PostgreSQL down 15 s, S3 down 15 s).

and then checks what an archive needs: every acknowledged submission is there exactly once (30 tasks, no
more), every card ends ``completed`` with exactly one machine reading (counted in the transcript
revisions), and every object in the bucket belongs to a task (no orphaned scans: each run starts with
one planted, as a crash between storing a scan and committing its task leaves it, and the relay's
orphan sweep, with a grace of seconds here, must have removed it). Each scenario adds a
row to the fault matrix (see ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from miniopy_async import Minio

from kartoteka.infrastructure.db.migrate import upgrade
from kartoteka_dev.synthetic_cards import render_card
from tests.e2e.faults.conftest import Matrix, Row
from tests.e2e.test_recognition_service import Service, free_port, service_env, wait_until
from tests.harness.postgres import PostgresServer
from tests.harness.rabbitmq import RabbitMQServer
from tests.harness.redis import RedisServer
from tests.harness.restartable import Restartable, own_postgres, own_rabbitmq, own_redis, own_s3
from tests.harness.s3 import S3Server

CARDS = 30
PER_REQUEST = 3
SETTLE_WITHIN_S = 420.0
FAULT_AFTER_COMPLETED = 3  # inject once the run is under way: some cards read, most still to do
QUICK = {  # service_env has short leases, sweeps and backoffs already
    "KARTOTEKA__BROKER__MAX_RETRIES": "20",
    "KARTOTEKA__BROKER__STUCK_QUEUED_S": "8",
    "KARTOTEKA__DATABASE__CONNECT_TIMEOUT_S": "2",
    "KARTOTEKA__S3__TIMEOUT_S": "2",
    "KARTOTEKA__BROKER__ORPHAN_GRACE_S": "5",
    "KARTOTEKA__BROKER__ORPHAN_SWEEP_INTERVAL_S": "2",
}


@dataclass
class Servers:
    postgres: Restartable
    database: PostgresServer
    s3: Restartable
    s3_facts: S3Server
    redis: Restartable
    redis_facts: RedisServer
    rabbitmq: Restartable
    rabbitmq_facts: RabbitMQServer


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    base = tmp_path_factory.mktemp("faults")
    with (
        own_postgres(base / "postgres") as (postgres, database),
        own_s3(base / "s3") as (s3, s3_facts),
        own_redis(base / "valkey") as (redis, redis_facts),
        own_rabbitmq(base / "rabbitmq") as (rabbitmq, rabbitmq_facts),
    ):
        upgrade(database.url)
        yield Servers(postgres, database, s3, s3_facts, redis, redis_facts, rabbitmq, rabbitmq_facts)


@pytest.fixture(scope="module")
def card_files() -> list[tuple[str, bytes]]:
    """Thirty small card scans, rendered once for every scenario (each scenario names them its own way)."""
    files = []
    for seed in range(CARDS):
        buf = io.BytesIO()
        image = render_card(seed).image
        image.thumbnail((480, 340))
        image.save(buf, format="PNG")
        files.append((f"card{seed:02d}.png", buf.getvalue()))
    return files


@dataclass
class Submitter:
    """A client that sends each request until it gets an answer, with the same Idempotency-Key each time."""

    base: str
    scenario: str
    files: list[tuple[str, bytes]]
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    requests_sent: int = 0
    in_flight: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    deadline_s: float = 180.0

    def run(self) -> None:
        try:
            for start in range(0, len(self.files), PER_REQUEST):
                self._send(start, self.files[start : start + PER_REQUEST])
        finally:
            self.done.set()

    def _send(self, start: int, chunk: list[tuple[str, bytes]]) -> None:
        key = f"{self.scenario}-{start}-{uuid.uuid4().hex}"
        files = [("images", (f"{self.scenario}-{name}", data, "image/png")) for name, data in chunk]
        deadline = time.monotonic() + self.deadline_s
        while time.monotonic() < deadline:
            self.requests_sent += 1
            self.in_flight.set()
            try:
                answer = httpx.post(
                    self.base + "/api/recognition/tasks", files=files, headers={"Idempotency-Key": key}, timeout=30
                )
            except httpx.HTTPError:
                time.sleep(0.3)  # the api is gone or restarting; ask again with the same key
                continue
            finally:
                self.in_flight.clear()
            if answer.status_code == 202:
                self.accepted += [str(t["id"]) for t in answer.json()["tasks"]]
                return
            if answer.status_code >= 500:  # 503: a server behind the api is down; the request made nothing
                time.sleep(0.3)
                continue
            self.refused.append(f"{answer.status_code} {answer.text[:300]}")
            return
        self.refused.append(f"no answer within {self.deadline_s} s")


@dataclass(frozen=True, slots=True)
class TaskFacts:
    status: str
    reads: int
    finished: float | None  # seconds since the epoch


async def _task_facts(dsn: str, prefix: str) -> dict[str, TaskFacts]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            """
            SELECT t.id::text AS id, t.status, extract(epoch FROM t.finished_at) AS finished,
                   (SELECT count(*) FROM transcript_revisions r WHERE r.task_id = t.id AND r.kind = 'machine') AS reads
            FROM recognition_tasks t WHERE t.filename LIKE $1
            """,
            prefix + "%",
        )
        return {
            r["id"]: TaskFacts(r["status"], r["reads"], None if r["finished"] is None else float(r["finished"]))
            for r in rows
        }
    finally:
        await connection.close()


async def _referenced_keys(dsn: str) -> set[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            """
            SELECT image_key AS key FROM recognition_tasks
            UNION SELECT object_key FROM gallery_images WHERE object_key IS NOT NULL
            UNION SELECT thumbnail_key FROM gallery_images WHERE thumbnail_key IS NOT NULL
            """
        )
        return {r["key"] for r in rows}
    finally:
        await connection.close()


async def _bucket_keys(s3: S3Server, bucket: str) -> set[str]:
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=s3.secure, region=s3.region)
    try:
        if not await client.bucket_exists(bucket):
            return set()
        return {str(o.object_name) for o in await client.list_objects(bucket, recursive=True)}
    finally:
        await client.close_session()


async def _plant(s3: S3Server, bucket: str, key: str) -> None:
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=s3.secure, region=s3.region)
    try:
        await client.put_object(bucket, key, io.BytesIO(b"left by a crash"), 15, content_type="image/png")
    finally:
        await client.close_session()


@dataclass
class Run:
    """One scenario's service (its own bucket) and the client submitting to it."""

    scenario: str
    service: Service
    servers: Servers
    bucket: str
    client: Submitter
    thread: threading.Thread

    def facts(self) -> dict[str, TaskFacts]:
        try:
            return asyncio.run(_task_facts(self.servers.database.dsn, self.scenario + "-"))
        except (OSError, asyncpg.PostgresError):
            return {}  # the database is down right now

    def completed(self) -> int:
        return sum(1 for f in self.facts().values() if f.status == "completed")

    def settled(self) -> bool:
        facts = self.facts()
        return (
            self.client.done.is_set()
            and len(facts) >= len(self.client.accepted)
            and all(f.status in ("completed", "failed", "cancelled") for f in facts.values())
        )

    def orphans(self) -> set[str]:
        stored = asyncio.run(_bucket_keys(self.servers.s3_facts, self.bucket))
        return stored - asyncio.run(_referenced_keys(self.servers.database.dsn))


@pytest.fixture
def start_run(
    servers: Servers,
    card_files: list[tuple[str, bytes]],
    tiny_detector: Path,
    tiny_recognizer: Path,
    tmp_path: Path,
) -> Iterator[Callable[[str], Run]]:
    runs: list[Run] = []

    def start(scenario: str) -> Run:
        port = free_port()
        env = service_env(
            servers.database.url,
            servers.s3_facts,
            servers.redis_facts,
            servers.rabbitmq_facts,
            tiny_detector,
            tiny_recognizer,
            port,
        )
        env.update(QUICK)
        service = Service(env, tmp_path, f"http://127.0.0.1:{port}")
        for name in ("api", "relay", "worker"):
            service.start(name, name)
        wait_until(lambda: _ready(service.base), 90, "the api to be ready", service.alive())
        # The fault then meets a worker that reads cards, not one still loading its models.
        wait_until(lambda: _consuming(tmp_path / "worker.log"), 180, "the worker to consume", service.alive())
        # A scan an earlier crash left between storing it and committing its task: the sweep must remove it.
        asyncio.run(_plant(servers.s3_facts, env["KARTOTEKA__S3__BUCKET"], f"cards/{uuid.uuid4()}/original.png"))
        client = Submitter(service.base, scenario, card_files)
        run = Run(scenario, service, servers, env["KARTOTEKA__S3__BUCKET"], client, threading.Thread(target=client.run))
        runs.append(run)
        return run

    try:
        yield start
    finally:
        for run in runs:
            run.client.done.wait(timeout=200)
            run.service.stop_all()


def _consuming(log: Path) -> bool:
    return log.exists() and "worker consuming" in log.read_text(errors="replace")


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _restart(run: Run, name: str) -> None:
    run.service.kill(name)
    run.service.start(f"{name}-again", name)


def kill_worker(run: Run) -> None:
    """SIGKILL mid-job: its message is unacknowledged and its lease lapses; another worker takes over."""
    run.thread.start()
    wait_until(lambda: run.completed() >= FAULT_AFTER_COMPLETED, 240, "cards to complete", run.service.alive())
    wait_until(lambda: any(f.status == "running" for f in run.facts().values()), 60, "a job", run.service.alive())
    _restart(run, "worker")


def kill_relay(run: Run) -> None:
    """SIGKILL while the outbox fills: jobs it had claimed and not published are sent by the next relay."""
    run.thread.start()
    wait_until(lambda: len(run.client.accepted) >= 2 * PER_REQUEST, 120, "submissions", run.service.alive())
    run.service.kill("relay")
    run.client.done.wait(timeout=180)  # the rest of the cards arrive with no relay at all
    run.service.start("relay-again", "relay")


def kill_api(run: Run) -> None:
    """SIGKILL while a request is being handled; the client sends it again with its key."""
    run.thread.start()
    wait_until(lambda: len(run.client.accepted) >= 2 * PER_REQUEST, 120, "submissions", run.service.alive())
    assert run.client.in_flight.wait(timeout=60), "the client sent no further request"
    _restart(run, "api")


def server_down(which: str, seconds: float) -> Callable[[Run], None]:
    def fault(run: Run) -> None:
        run.thread.start()
        wait_until(lambda: run.completed() >= FAULT_AFTER_COMPLETED, 240, "cards to complete", run.service.alive())
        server: Restartable = getattr(run.servers, which)
        with server.down():
            stopped = time.monotonic()
            while time.monotonic() - stopped < seconds:  # the outage lasts its length; our processes must live
                for process in run.service.alive():
                    assert process.poll() is None, f"{process.args!r} exited while {which} was down"
                time.sleep(0.5)

    fault.__doc__ = f"{which} down for {seconds:.0f} s in the middle of the run"
    return fault


SCENARIOS: dict[str, Callable[[Run], None]] = {
    "sigkill-worker": kill_worker,
    "sigkill-relay": kill_relay,
    "sigkill-api": kill_api,
    "rabbitmq-restart": server_down("rabbitmq", 0),
    "valkey-down-20s": server_down("redis", 20),
    "postgres-down-15s": server_down("postgres", 15),
    "s3-down-15s": server_down("s3", 15),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_card_is_read_exactly_once_through_the_fault(
    scenario: str, start_run: Callable[[str], Run], fault_matrix: Matrix
) -> None:
    run = start_run(scenario)
    SCENARIOS[scenario](run)
    fault_over = time.time()
    wait_until(run.settled, SETTLE_WITHIN_S, "every card to settle", run.service.alive())
    settled_s = time.time() - fault_over
    # Orphans (the planted one, and any a killed request left) go once the sweep's grace has passed;
    # wait for that, bounded, before counting what is left.
    orphans = run.orphans()
    give_up = time.monotonic() + 60
    while orphans and time.monotonic() < give_up:
        time.sleep(1)
        orphans = run.orphans()
    facts = run.facts()
    after = sorted(f.finished for f in facts.values() if f.finished is not None and f.finished >= fault_over)
    row = Row(
        scenario=scenario,
        submitted=CARDS,
        accepted=len(run.client.accepted),
        resent=run.client.requests_sent - -(-CARDS // PER_REQUEST),
        completed=sum(1 for f in facts.values() if f.status == "completed"),
        failed=sum(1 for f in facts.values() if f.status == "failed"),
        duplicated=(len(facts) - CARDS) + sum(max(0, f.reads - 1) for f in facts.values()),
        orphans=len(orphans),
        recover_s=(after[0] - fault_over) if after else None,
        settled_s=settled_s,
    )
    fault_matrix.rows.append(row)

    assert run.client.refused == [], run.client.refused
    assert sorted(run.client.accepted) == sorted(facts), "an acknowledged submission is missing or made twice"
    assert len(facts) == CARDS
    assert {(f.status, f.reads) for f in facts.values()} == {("completed", 1)}, facts
    assert orphans == set(), f"objects no task or image refers to: {sorted(orphans)[:5]}"
