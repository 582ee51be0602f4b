"""The process commands as an operator runs them: real processes, real servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KARTOTEKA = str(Path(sys.executable).with_name("kartoteka"))


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KARTOTEKA__")}
    return subprocess.run(
        [KARTOTEKA, *args], capture_output=True, text=True, timeout=timeout, env={**base, **(env or {})}, check=False
    )


def test_migrate_creates_the_schema(fresh_database: str) -> None:
    done = run("migrate", env={"KARTOTEKA__DATABASE__URL": fresh_database})
    assert done.returncode == 0, done.stderr
    again = run("migrate", env={"KARTOTEKA__DATABASE__URL": fresh_database})
    assert again.returncode == 0, again.stderr  # idempotent


def test_worker_without_its_model_stops_at_start_up_naming_it(tmp_path: Path) -> None:
    done = run("worker", env={"KARTOTEKA__RECOGNITION__DETECTOR__MODEL": str(tmp_path / "absent.pt")}, timeout=300)
    assert done.returncode == 2
    assert "absent.pt" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("queues", ["ocr", ""])
def test_worker_refuses_unknown_queues(queues: str) -> None:
    done = run("worker", "--queues", queues)
    assert done.returncode == 2
    assert "unknown queue" in done.stderr


def test_worker_with_unreachable_storage_says_so(tiny_detector: Path, tiny_recognizer: Path) -> None:
    done = run(
        "worker",
        env={
            "KARTOTEKA__RECOGNITION__DETECTOR__MODEL": str(tiny_detector),
            "KARTOTEKA__RECOGNITION__RECOGNIZER__MODEL": str(tiny_recognizer),
            "KARTOTEKA__S3__ENDPOINT": "127.0.0.1:9",
            "KARTOTEKA__S3__TIMEOUT_S": "2",
        },
        timeout=300,
    )
    assert done.returncode == 3
    assert "cannot start: S3 store http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
