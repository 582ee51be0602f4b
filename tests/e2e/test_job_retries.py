"""Leases with real processes: a worker killed mid-job whose message nobody redelivers.

(Outages of every server and kills of every process during a run of 30 cards are in ``tests/e2e/faults``.)
api, relay and worker run as separate processes over this module's own PostgreSQL and S3 and the
session's Redis and RabbitMQ. Leases, sweeps and backoffs are short so that every wait is bounded; the
test checks that the card was completed exactly once (one machine revision, attempt 1).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from kartoteka.infrastructure.db.migrate import upgrade
from kartoteka_dev.synthetic_cards import render_card
from tests.e2e.test_recognition_service import SLOW_JOB, Service, free_port, service_env, wait_until
from tests.harness.postgres import PostgresServer
from tests.harness.rabbitmq import RabbitMQServer
from tests.harness.redis import RedisServer
from tests.harness.restartable import Restartable, own_postgres, own_s3
from tests.harness.s3 import S3Server

SETTLE_WITHIN_S = 300.0
QUICK_RETRIES = {  # service_env has short leases, sweeps and backoffs already
    "KARTOTEKA__BROKER__MAX_RETRIES": "12",
    "KARTOTEKA__BROKER__STUCK_QUEUED_S": "8",
    "KARTOTEKA__DATABASE__CONNECT_TIMEOUT_S": "2",
    "KARTOTEKA__S3__TIMEOUT_S": "2",
}


@dataclass
class Servers:
    postgres: Restartable
    database: PostgresServer
    s3: Restartable
    s3_facts: S3Server


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    base = tmp_path_factory.mktemp("retries")
    with own_postgres(base / "postgres") as (postgres, database), own_s3(base / "s3") as (s3, s3_facts):
        upgrade(database.url)
        yield Servers(postgres, database, s3, s3_facts)


@pytest.fixture
def service(
    servers: Servers,
    redis_server: RedisServer,
    rabbitmq_server: RabbitMQServer,
    tiny_detector: Path,
    tiny_recognizer: Path,
    tmp_path: Path,
) -> Iterator[Service]:
    port = free_port()
    env = service_env(
        servers.database.url, servers.s3_facts, redis_server, rabbitmq_server, tiny_detector, tiny_recognizer, port
    )
    env.update(QUICK_RETRIES)
    svc = Service(env, tmp_path, f"http://127.0.0.1:{port}")
    svc.start("api", "api")
    svc.start("relay", "relay")
    try:
        wait_until(lambda: _ready(svc.base), 60, "the api to be ready", svc.alive())
        yield svc
    finally:
        svc.stop_all()


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def submit_cards(service: Service, count: int) -> list[str]:
    files = []
    for seed in range(count):
        buf = io.BytesIO()
        image = render_card(seed).image
        image.thumbnail((480, 340))
        image.save(buf, format="PNG")
        files.append(("images", (f"card{seed}.png", buf.getvalue(), "image/png")))
    created = httpx.post(service.base + "/api/recognition/tasks", files=files, timeout=60)
    assert created.status_code == 202, created.text
    return [str(t["id"]) for t in created.json()["tasks"]]


async def _facts(dsn: str, ids: list[str]) -> dict[str, tuple[str, int, int]]:
    """Per task: status, attempt and how many machine readings were stored (one per completion)."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            """
            SELECT t.id::text AS id, t.status, t.attempt,
                   (SELECT count(*) FROM transcript_revisions r WHERE r.task_id = t.id AND r.kind = 'machine') AS reads
            FROM recognition_tasks t WHERE t.id = ANY($1::uuid[])
            """,
            ids,
        )
        return {r["id"]: (r["status"], r["attempt"], r["reads"]) for r in rows}
    finally:
        await connection.close()


def facts(servers: Servers, ids: list[str]) -> dict[str, tuple[str, int, int]]:
    try:
        return asyncio.run(_facts(servers.database.dsn, ids))
    except (OSError, asyncpg.PostgresError):
        return {}  # the database is down right now


def assert_each_completed_once(servers: Servers, ids: list[str]) -> None:
    settled = facts(servers, ids)
    assert sorted(settled.values()) == [("completed", 1, 1)] * len(ids), settled


def test_a_worker_killed_mid_job_with_its_message_lost_is_picked_up_after_its_lease_lapses(
    service: Service, servers: Servers
) -> None:
    # TaskIQ's Redis list broker: a message taken by a worker is gone from the list, so a SIGKILLed
    # worker's job is not redelivered by anyone. Only the lease and the sweeper can bring it back.
    del service.env["KARTOTEKA__BROKER__URL"]
    service.stop_all()
    service.processes.clear()
    service.env.update(SLOW_JOB)
    service.start("api", "api")
    service.start("relay", "relay")
    wait_until(lambda: _ready(service.base), 60, "the api to be ready", service.alive())
    service.start("worker", "worker")
    [task_id] = submit_cards(service, 1)
    wait_until(lambda: service.task(task_id)["status"] == "running", 180, "the job to start", service.alive())
    service.kill("worker")  # SIGKILL mid-job: no acknowledgement, no clean-up, the message is lost
    assert service.task(task_id)["status"] == "running"
    service.start("worker-2", "worker")
    wait_until(
        lambda: service.task(task_id)["status"] == "completed", SETTLE_WITHIN_S, "the job to run again", service.alive()
    )
    assert_each_completed_once(servers, [task_id])
    relay_log = (service.logs / "relay.log").read_text(errors="replace")
    assert "sweeper put back" in relay_log
