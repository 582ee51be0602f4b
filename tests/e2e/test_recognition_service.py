"""The service as deployed: api, relay and worker as separate processes over real servers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from kartoteka.infrastructure.embedded.network import free_port_block
from kartoteka.infrastructure.embedded.rabbitmq import EmbeddedRabbitMQ
from kartoteka_dev.synthetic_cards import render_card
from tests.harness.metrics import scrape, scrape_or_empty, value
from tests.harness.rabbitmq import RabbitMQServer
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server

KARTOTEKA = str(Path(sys.executable).with_name("kartoteka"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in processes:
            if p.poll() is not None:
                raise AssertionError(f"{p.args} exited with {p.returncode} while waiting for {what}")
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Service:
    """api, relay and workers as separate processes; each can be stopped or killed on its own."""

    def __init__(self, env: dict[str, str], logs: Path, base: str) -> None:
        self.env = env
        self.logs = logs
        self.base = base
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._stack = contextlib.ExitStack()

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self._stack.enter_context(open(self.logs / f"{name}.log", "ab"))  # noqa: SIM115
        process = subprocess.Popen(
            [KARTOTEKA, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return list(self.processes.values())

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._stack.close()

    def metrics_url(self, offset: int) -> str:
        return f"http://127.0.0.1:{int(self.env['KARTOTEKA__METRICS__PORT']) + offset}/metrics"

    def task(self, task_id: str) -> dict[str, object]:
        return dict(httpx.get(f"{self.base}/api/recognition/tasks/{task_id}", timeout=5).json())

    def submit(self, seed: int = 7) -> str:
        buf = io.BytesIO()
        image = render_card(seed).image
        image.thumbnail((640, 450))
        image.save(buf, format="PNG")
        created = httpx.post(
            self.base + "/api/recognition/tasks", files=[("images", ("card.png", buf.getvalue(), "image/png"))]
        )
        assert created.status_code == 202, created.text
        return str(created.json()["tasks"][0]["id"])


def service_env(
    database: str, s3: S3Server, redis: RedisServer, rabbit: RabbitMQServer, detector: Path, recognizer: Path, port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARTOTEKA__")}
    env.update(
        {
            "KARTOTEKA__DATABASE__URL": database,
            "KARTOTEKA__S3__ENDPOINT": s3.endpoint,
            "KARTOTEKA__S3__ACCESS_KEY": s3.access_key,
            "KARTOTEKA__S3__SECRET_KEY": s3.secret_key,
            "KARTOTEKA__S3__BUCKET": f"e2e-{uuid.uuid4().hex[:8]}",
            "KARTOTEKA__REDIS__URL": redis.url,
            "KARTOTEKA__BROKER__URL": rabbit.url,
            "KARTOTEKA__API__PORT": str(port),
            # relay at +0, the worker at +1 (a second worker starts only once the first is gone).
            "KARTOTEKA__METRICS__PORT": str(free_port_block([0, 1, 2, 3])),
            "KARTOTEKA__RECOGNITION__DETECTOR__MODEL": str(detector),
            "KARTOTEKA__RECOGNITION__DETECTOR__CONF": "0.0",
            "KARTOTEKA__RECOGNITION__DETECTOR__IMGSZ": "320",
            "KARTOTEKA__RECOGNITION__DETECTOR__MAX_DET": "10",
            "KARTOTEKA__RECOGNITION__RECOGNIZER__MODEL": str(recognizer),
            "KARTOTEKA__INFERENCE__DEVICE": "cpu",
            # Short leases and sweeps: a job whose worker was killed is picked up within seconds.
            "KARTOTEKA__BROKER__LEASE_S": "3",
            "KARTOTEKA__BROKER__SWEEP_INTERVAL_S": "0.5",
            "KARTOTEKA__BROKER__RETRY_BACKOFF_S": "0.5",
            "KARTOTEKA__BROKER__RETRY_BACKOFF_MAX_S": "2",
        }
    )
    return env


@pytest.fixture
def service(
    migrated_database: str,
    s3_server: S3Server,
    redis_server: RedisServer,
    rabbitmq_server: RabbitMQServer,
    tiny_detector: Path,
    tiny_recognizer: Path,
    tmp_path: Path,
) -> Iterator[Service]:
    port = free_port()
    env = service_env(migrated_database, s3_server, redis_server, rabbitmq_server, tiny_detector, tiny_recognizer, port)
    svc = Service(env, tmp_path, f"http://127.0.0.1:{port}")
    svc.start("api", "api")
    svc.start("relay", "relay")

    def ready() -> bool:
        try:
            return httpx.get(svc.base + "/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 60, "the api to be ready", svc.alive())
        yield svc
    finally:
        svc.stop_all()
        for log in sorted(tmp_path.glob("*.log")):
            text = log.read_text(errors="replace")
            assert "Traceback" not in text, f"{log.name} logged a traceback:\n{text[-3000:]}"


def test_a_card_uploaded_over_http_is_recognised_by_the_worker_process(service: Service) -> None:
    service.start("worker", "worker")
    task_id = service.submit()
    wait_until(lambda: service.task(task_id)["status"] == "completed", 120, "the task to complete", service.alive())
    result = service.task(task_id)
    assert result["transcript"] is not None
    assert result["attempt"] == 1
    legacy = httpx.get(f"{service.base}/task", params={"task_id": task_id}).json()
    assert legacy["status"]["type"] == "completed"
    assert "text" in legacy["status"]

    # Each process's metrics, as Prometheus would scrape them.
    worker = scrape(service.metrics_url(1))
    assert value(worker, "kartoteka_recognition_jobs_total", outcome="completed") == 1
    for stage in ("fetch", "decode", "detect", "recognise", "store"):
        assert value(worker, "kartoteka_recognition_stage_duration_seconds_count", stage=stage) == 1, stage
    assert value(worker, "kartoteka_recognition_queue_wait_seconds_count") == 1
    assert (value(worker, "kartoteka_model_load_seconds", queue="recognition") or 0) > 0
    relay = scrape(service.metrics_url(0))
    assert (value(relay, "kartoteka_outbox_published_total", destination="recognition.jobs") or 0) >= 1
    api = scrape(service.base + "/metrics")
    route = "/api/recognition/tasks/{task_id}"
    assert (value(api, "kartoteka_http_requests_total", method="GET", route=route, status="200") or 0) >= 1
    assert task_id not in api


SLOW_JOB = {
    # Keep every candidate box and read them one at a time: a job of several seconds on tiny models.
    "KARTOTEKA__RECOGNITION__DETECTOR__MAX_DET": "300",
    "KARTOTEKA__RECOGNITION__LAYOUT__MERGE_OVERLAPPING": "false",
    "KARTOTEKA__RECOGNITION__LAYOUT__CONTAINMENT_THRESHOLD": "1.0",
    "KARTOTEKA__RECOGNITION__RECOGNIZER__BATCH_SIZE": "1",
}


def test_cancelling_a_running_job_stops_it_within_two_seconds(service: Service) -> None:
    service.env.update(SLOW_JOB)
    service.start("worker", "worker")
    task_id = service.submit()
    wait_until(lambda: service.task(task_id)["status"] == "running", 120, "the job to start", service.alive())
    cancelled_at = time.monotonic()
    response = httpx.post(f"{service.base}/api/recognition/tasks/{task_id}/cancel")
    assert response.json()["status"] in {"cancelling", "cancelled"}
    wait_until(lambda: service.task(task_id)["status"] == "cancelled", 10, "the job to stop", service.alive())
    assert time.monotonic() - cancelled_at <= 2.0
    assert service.task(task_id)["attempt"] == 1


def test_a_worker_killed_mid_job_leaves_it_to_another_which_completes_it_once(
    service: Service, rabbitmq_server: RabbitMQServer
) -> None:
    import asyncio

    import aio_pika

    async def bind() -> None:
        connection = await aio_pika.connect(rabbitmq_server.url)
        channel = await connection.channel()
        exchange = await channel.declare_exchange("kartoteka.events", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("e2e-completed", durable=True)
        await queue.purge()
        await queue.bind(exchange, routing_key="recognition.task.completed")
        await connection.close()

    async def completions(task_id: str) -> int:
        """Wait for the first completion event of the task, then count it and any duplicates queued behind it."""
        connection = await aio_pika.connect(rabbitmq_server.url)
        channel = await connection.channel()
        queue = await channel.declare_queue("e2e-completed", durable=True)
        count = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = await queue.get(fail=False, timeout=5)
            if message is None:
                if count:
                    break
                await asyncio.sleep(0.2)
                continue
            await message.ack()
            count += json.loads(message.body)["task_id"] == task_id
        await connection.close()
        return count

    asyncio.run(bind())
    service.env.update(SLOW_JOB)
    service.start("worker", "worker")
    task_id = service.submit()
    wait_until(lambda: service.task(task_id)["status"] == "running", 120, "the job to start", service.alive())
    service.kill("worker")  # SIGKILL: no chance to acknowledge or clean up
    assert service.task(task_id)["status"] == "running"
    # RabbitMQ redelivers the message at once; while the dead worker's lease is live it is dropped, and
    # once the lease lapses the sweeper sends the job again. Either way the card is read once.
    service.start("worker-2", "worker")
    wait_until(lambda: service.task(task_id)["status"] == "completed", 180, "the redelivered job", service.alive())
    assert service.task(task_id)["attempt"] == 1
    assert asyncio.run(completions(task_id)) == 1


@pytest.fixture
def own_broker() -> Iterator[EmbeddedRabbitMQ]:
    """A broker of this test's own, on fixed ports, that it can stop and start again (the shared one stays up)."""
    directory = Path(tempfile.mkdtemp(prefix="kartoteka-outage-"))
    broker = EmbeddedRabbitMQ(directory, free_port_block([0, 1, 2]))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_jobs_submitted_while_the_broker_is_down_all_run_once_it_returns(
    migrated_database: str,
    s3_server: S3Server,
    redis_server: RedisServer,
    own_broker: EmbeddedRabbitMQ,
    tiny_detector: Path,
    tiny_recognizer: Path,
    tmp_path: Path,
) -> None:
    port = free_port()
    rabbit = RabbitMQServer.from_url(own_broker.url)
    env = service_env(migrated_database, s3_server, redis_server, rabbit, tiny_detector, tiny_recognizer, port)
    service = Service(env, tmp_path, f"http://127.0.0.1:{port}")
    try:
        for name in ("api", "relay", "worker"):
            service.start(name, name)
        wait_until(lambda: _ready(service.base), 60, "the api to be ready", service.alive())
        # The relay and the worker connect in their own time: the outage starts once both have.
        wait_until(
            lambda: (
                "relay delivering the outbox" in (tmp_path / "relay.log").read_text(errors="replace")
                and "worker consuming" in (tmp_path / "worker.log").read_text(errors="replace")
            ),
            120,
            "the relay and the worker to connect",
            service.alive(),
        )
        own_broker.stop()
        files = []
        for seed in (1, 2, 3):
            buf = io.BytesIO()
            image = render_card(seed).image
            image.thumbnail((640, 450))
            image.save(buf, format="PNG")
            files.append(("images", (f"card{seed}.png", buf.getvalue(), "image/png")))
        created = httpx.post(service.base + "/api/recognition/tasks", files=files, timeout=30)
        assert created.status_code == 202, created.text  # accepted: the jobs wait in the outbox
        ids = [str(t["id"]) for t in created.json()["tasks"]]
        assert httpx.get(service.base + "/ready", timeout=10).status_code == 503

        def jobs_waiting() -> int:
            return asyncio.run(_outbox_jobs(migrated_database))

        # The relay has met the closed broker (its rows are claimed and given back), and nothing ran.
        wait_until(lambda: jobs_waiting() == 3, 30, "the relay to hold three jobs", service.alive())
        assert {str(service.task(i)["status"]) for i in ids} == {"queued"}
        relay_metrics = service.metrics_url(0)
        wait_until(
            lambda: (value(scrape_or_empty(relay_metrics), "kartoteka_outbox_backlog") or 0) >= 3,
            30,
            "the relay's backlog gauge to show the held jobs",
            service.alive(),
        )
        assert (value(scrape(relay_metrics), "kartoteka_outbox_oldest_age_seconds") or 0) > 0

        own_broker.start()  # same ports, same data
        wait_until(
            lambda: all(service.task(i)["status"] == "completed" for i in ids),
            180,
            "every card to be recognised",
            service.alive(),
        )
        assert [service.task(i)["attempt"] for i in ids] == [1, 1, 1]
        assert jobs_waiting() == 0
        wait_until(
            lambda: value(scrape_or_empty(relay_metrics), "kartoteka_outbox_backlog") == 0,
            30,
            "the relay's backlog gauge to drain",
            service.alive(),
        )
    finally:
        service.stop_all()
    relay_log = (tmp_path / "relay.log").read_text(errors="replace")
    assert "recognition.jobs is unreachable" in relay_log
    assert "is dead" not in relay_log


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def _outbox_jobs(database_url: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE destination = 'recognition.jobs' AND dead_at IS NULL"
            )
        )
    finally:
        await connection.close()
