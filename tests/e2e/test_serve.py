"""``kartoteka serve`` from a fresh data directory: embedded servers, migrations, all processes, one card."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kartoteka.infrastructure.embedded.network import free_port_block
from kartoteka_dev.synthetic_cards import render_card
from kartoteka_dev.tiny_embedders import lasa_sketches
from tests.harness.metrics import scrape, value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_using(directory: Path) -> list[int]:
    """PIDs whose command line mentions ``directory`` (the embedded servers run from and in it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if str(directory) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """PostgreSQL runs as a system user when the tests run as root: its data must be outside pytest's
    private (mode 700) temporary root."""
    path = Path(tempfile.mkdtemp(prefix="kartoteka-serve-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_serve_runs_the_whole_service_from_a_fresh_data_dir(
    tiny_detector: Path, tiny_recognizer: Path, tmp_path: Path, data_dir: Path
) -> None:
    config = tmp_path / "config.yaml"
    port = free_port()
    gallery_dir = tmp_path / "gallery"
    gallery_dir.mkdir()
    sketches = lasa_sketches(size=160, shapes=["Angle", "Leaf_1"])
    (gallery_dir / "angle.png").write_bytes(sketches[0].png)
    (gallery_dir / "leaf.png").write_bytes(sketches[7].png)
    metrics_port = free_port_block([0, 1, 2, 3])
    config.write_text(
        f"api: {{port: {port}}}\n"
        f"metrics: {{port: {metrics_port}}}\n"
        "recognition:\n"
        f"  detector: {{model: '{tiny_detector}', conf: 0.0, imgsz: 320, max_det: 10}}\n"
        f"  recognizer: {{model: '{tiny_recognizer}'}}\n"
        "inference: {device: cpu}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARTOTEKA")}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        serve = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("kartoteka")),
                "--config",
                str(config),
                "serve",
                "--data-dir",
                str(data_dir),
                "--watch",
                str(gallery_dir),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert serve.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(base + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve never became ready"
            time.sleep(0.5)

        buf = io.BytesIO()
        image = render_card(3).image
        image.thumbnail((640, 450))
        image.save(buf, format="PNG")
        created = httpx.post(
            base + "/api/recognition/tasks", files=[("images", ("c.png", buf.getvalue(), "image/png"))]
        )
        assert created.status_code == 202, created.text
        task_id = created.json()["tasks"][0]["id"]
        deadline = time.monotonic() + 120
        while httpx.get(f"{base}/api/recognition/tasks/{task_id}").json()["status"] != "completed":
            assert serve.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the card was never recognised"
            time.sleep(0.5)

        # The watched directory and the recognised card are indexed with the offline encoder.
        def gallery_ready() -> bool:
            state = httpx.get(f"{base}/api/images/index", timeout=5).json()["searchable"]
            total = httpx.get(f"{base}/api/images", params={"directory": ""}, timeout=5).json()["total"]
            return state is not None and state["pending"] == 0 and total == 3

        deadline = time.monotonic() + 180
        while not gallery_ready():
            assert serve.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the gallery was never indexed"
            time.sleep(0.5)
        found = httpx.post(
            f"{base}/api/images/similarity-search",
            files={"image": ("blob", sketches[1].png, "image/png")},
            data={"top_k": "3"},
            timeout=30,
        )
        assert found.status_code == 200, found.text
        assert found.json()["images"][0]["user_visible_name"] == "angle.png"

        # serve's children each serve their metrics on their own port: relay, workers, watcher.
        relay, worker, embedder, watcher = (scrape(f"http://127.0.0.1:{metrics_port + i}/metrics") for i in range(4))
        assert (value(relay, "kartoteka_outbox_published_total", destination="recognition.jobs") or 0) >= 1
        assert value(worker, "kartoteka_recognition_jobs_total", outcome="completed") == 1
        assert (value(embedder, "kartoteka_model_load_seconds", queue="embedding") or 0) > 0
        assert value(watcher, "kartoteka_gallery_reconciled_files_total", outcome="new") == 2
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        serve.wait(timeout=90)
    text = log.read_text(errors="replace")
    assert "Kartoteka is at" in text
    assert "jobs through RabbitMQ" in text  # rabbitmq-server is installed (scripts/bootstrap.sh), so serve runs it
    assert "Traceback" not in text, text[-3000:]
    assert processes_using(data_dir) == []
    assert (data_dir / "postgres").is_dir()  # the data persists for the next run
    assert (data_dir / "rabbitmq" / "mnesia").is_dir()
