"""``kartoteka recognize`` and ``kartoteka dev fixtures`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kartoteka.entrypoint import main
from kartoteka_dev.synthetic_cards import write_cards


@pytest.fixture(scope="module")
def config(tiny_detector: Path, tiny_recognizer: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "config.yaml"
    path.write_text(
        "recognition:\n"
        f"  detector: {{model: '{tiny_detector}', conf: 0.0, imgsz: 320, max_det: 20}}\n"
        f"  recognizer: {{model: '{tiny_recognizer}', batch_size: 8}}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def card_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return [p for p, _ in write_cards(tmp_path_factory.mktemp("cards"), 2, seed=5)]


def test_recognize_prints_json_transcripts(
    config: Path, card_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "recognize", *map(str, card_files)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in out] == [str(p) for p in card_files]
    transcript = out[0]["transcript"]
    assert transcript["lines"]
    assert transcript["lines"][0]["words"]
    word = transcript["lines"][0]["words"][0]
    assert set(word) == {"text", "box", "detection_confidence", "recognition_confidence"}
    assert len(word["box"]) == 4
    assert [m["role"] for m in transcript["models"]] == ["detector", "recognizer"]


def test_recognize_txt_and_a_bad_file_among_good_ones(
    config: Path, card_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "notes.jpg"
    junk.write_text("not a scan", encoding="utf-8")
    code = main(["--config", str(config), "recognize", "--format", "txt", str(junk), str(card_files[0])])
    captured = capsys.readouterr()
    assert code == 1
    assert f"{junk}: not a recognised image format" in captured.err
    assert f"== {card_files[0]}" in captured.out


def test_missing_model_is_a_start_up_error_naming_it(
    tmp_path: Path, card_files: list[Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__DETECTOR__MODEL", str(tmp_path / "gone.pt"))
    assert main(["recognize", str(card_files[0])]) == 2
    assert "gone.pt" in capsys.readouterr().err


def test_bad_setting_is_refused_with_its_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__DETECTOR__IOU", "2")
    assert main(["recognize", "card.png"]) == 2
    assert "recognition.detector.iou" in capsys.readouterr().err


def test_console_script_runs_in_a_fresh_process(config: Path, card_files: list[Path]) -> None:
    script = Path(sys.executable).with_name("kartoteka")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARTOTEKA__")}
    done = subprocess.run(
        [str(script), "--config", str(config), "recognize", "--format", "json", str(card_files[1])],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["transcript"]["width"] > 0
