"""The service as deployed: api, relay and worker as separate processes over real servers."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from kartoteka.devtools.synthetic_cards import render_card
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


@pytest.fixture
def service(
    migrated_database: str,
    s3_server: S3Server,
    redis_server: RedisServer,
    rabbitmq_server: RabbitMQServer,
    tiny_detector: Path,
    tiny_recognizer: Path,
    tmp_path: Path,
) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARTOTEKA__")}
    env.update(
        {
            "KARTOTEKA__DATABASE__URL": migrated_database,
            "KARTOTEKA__S3__ENDPOINT": s3_server.endpoint,
            "KARTOTEKA__S3__ACCESS_KEY": s3_server.access_key,
            "KARTOTEKA__S3__SECRET_KEY": s3_server.secret_key,
            "KARTOTEKA__S3__BUCKET": f"e2e-{uuid.uuid4().hex[:8]}",
            "KARTOTEKA__REDIS__URL": redis_server.url,
            "KARTOTEKA__BROKER__URL": rabbitmq_server.url,
            "KARTOTEKA__API__PORT": str(port),
            "KARTOTEKA__RECOGNITION__DETECTOR__MODEL": str(tiny_detector),
            "KARTOTEKA__RECOGNITION__DETECTOR__CONF": "0.0",
            "KARTOTEKA__RECOGNITION__DETECTOR__IMGSZ": "320",
            "KARTOTEKA__RECOGNITION__DETECTOR__MAX_DET": "10",
            "KARTOTEKA__RECOGNITION__RECOGNIZER__MODEL": str(tiny_recognizer),
            "KARTOTEKA__INFERENCE__DEVICE": "cpu",
        }
    )
    stack = contextlib.ExitStack()
    logs = {c: stack.enter_context(open(tmp_path / f"{c}.log", "wb")) for c in ("api", "relay", "worker")}  # noqa: SIM115
    processes = [
        subprocess.Popen([KARTOTEKA, command], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for command, log in logs.items()
    ]
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(base + "/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 60, "the api to be ready", processes)
        yield base
    finally:
        for p in processes:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        stack.close()
        for command in ("api", "relay", "worker"):
            log = (tmp_path / f"{command}.log").read_text(errors="replace")
            assert "Traceback" not in log, f"{command} logged a traceback:\n{log[-3000:]}"


def test_a_card_uploaded_over_http_is_recognised_by_the_worker_process(service: str) -> None:
    buf = io.BytesIO()
    image = render_card(7).image
    image.thumbnail((640, 450))
    image.save(buf, format="PNG")
    created = httpx.post(
        service + "/api/recognition/tasks", files=[("images", ("card.png", buf.getvalue(), "image/png"))]
    )
    assert created.status_code == 202, created.text
    task_id = created.json()["tasks"][0]["id"]
    result: dict[str, object] = {}

    def completed() -> bool:
        result.update(httpx.get(f"{service}/api/recognition/tasks/{task_id}", timeout=5).json())
        return result["status"] == "completed"

    wait_until(completed, 120, "the task to complete", [])
    assert result["transcript"] is not None
    assert result["attempt"] == 1
    legacy = httpx.get(f"{service}/task", params={"task_id": task_id}).json()
    assert legacy["status"]["type"] == "completed"
    assert "text" in legacy["status"]
