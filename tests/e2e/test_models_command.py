"""``kartoteka models list|pull`` against a local hub: what is missing, fetching it, and then using it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kartoteka_dev.synthetic_cards import write_cards
from tests.harness.hub import HubRepo, running_hub
from tests.harness.network import free_port

DETECTOR, RECOGNIZER = "kartoteka-test/detector", "kartoteka-test/recognizer"


@pytest.fixture(scope="module")
def hub(tiny_detector: Path, tiny_recognizer: Path) -> Iterator[tuple[str, dict[str, HubRepo]]]:
    with running_hub({DETECTOR: tiny_detector.parent, RECOGNIZER: tiny_recognizer}) as served:
        yield served


def kartoteka(*args: str, endpoint: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KARTOTEKA__", "HF_"))}
    env.update(
        {
            "HF_ENDPOINT": endpoint,
            "HF_HOME": str(home),
            "KARTOTEKA__RECOGNITION__DETECTOR__MODEL": DETECTOR,
            "KARTOTEKA__RECOGNITION__DETECTOR__IMGSZ": "320",
            "KARTOTEKA__RECOGNITION__RECOGNIZER__MODEL": RECOGNIZER,
            "KARTOTEKA__INFERENCE__DEVICE": "cpu",
        }
    )
    script = Path(sys.executable).with_name("kartoteka")
    return subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_pull_fetches_the_configured_models_into_the_cache_the_workers_read(
    hub: tuple[str, dict[str, HubRepo]], tmp_path: Path
) -> None:
    endpoint, repos = hub
    before = kartoteka("models", "list", "--format", "json", endpoint=endpoint, home=tmp_path / "hf")
    assert before.returncode == 0, before.stderr
    listed = {row["role"]: row for row in json.loads(before.stdout)}
    assert (listed["detector"]["present"], listed["recognizer"]["present"]) == (False, False)
    assert "kartoteka models pull" in listed["detector"]["problem"]

    pulled = kartoteka("models", "pull", endpoint=endpoint, home=tmp_path / "hf")
    assert pulled.returncode == 0, pulled.stderr
    after = {
        r["role"]: r
        for r in json.loads(
            kartoteka("models", "list", "--format", "json", endpoint=endpoint, home=tmp_path / "hf").stdout
        )
    }
    assert after["detector"]["identity"] == repos[DETECTOR].sha[:12]  # the hub's commit names the weights
    assert after["recognizer"]["identity"] == repos[RECOGNIZER].sha[:12]

    [(card, _)] = write_cards(tmp_path / "cards", 1, seed=3)
    read = kartoteka("recognize", str(card), endpoint="http://127.0.0.1:9", home=tmp_path / "hf")  # hub gone
    assert read.returncode == 0, read.stderr
    models = json.loads(read.stdout)[0]["transcript"]["models"]
    assert [m["name"] for m in models] == [DETECTOR, RECOGNIZER]


def test_pull_into_a_directory_and_the_errors_a_user_meets(hub: tuple[str, dict[str, HubRepo]], tmp_path: Path) -> None:
    endpoint, _ = hub
    done = kartoteka(
        "models", "pull", RECOGNIZER, "--to", str(tmp_path / "models"), endpoint=endpoint, home=tmp_path / "hf"
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "models" / RECOGNIZER / "config.json").is_file()

    unknown = kartoteka("models", "pull", "nobody/nothing", endpoint=endpoint, home=tmp_path / "hf")
    assert unknown.returncode == 3
    assert f"nobody/nothing: no such model on {endpoint}" in unknown.stderr
    revision = kartoteka("models", "pull", DETECTOR, "--revision", "v9", endpoint=endpoint, home=tmp_path / "hf")
    assert revision.returncode == 3
    assert "no revision 'v9'" in revision.stderr
    offline = f"http://127.0.0.1:{free_port()}"
    unreachable = kartoteka("models", "pull", DETECTOR, endpoint=offline, home=tmp_path / "hf2")
    assert unreachable.returncode == 3
    assert f"{DETECTOR}: " in unreachable.stderr
    assert offline in unreachable.stderr
