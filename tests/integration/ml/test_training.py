"""``kartoteka train``: what it writes is what the worker loads, it learns, and it resumes where it stopped."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from kartoteka.di import CardRecognition, recognition_container
from kartoteka.domain.recognition.text import DIALECT_MARKS
from kartoteka.entrypoint import main
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.ml.training.char_tokenizer import build_char_tokenizer
from kartoteka.infrastructure.ml.training.recognizer import RecognizerTraining, train_recognizer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def training_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("training") / "set"
    assert main(["dataset", "synth", str(out), "--cards", "3", "--seed", "70", "--validation", "0.34"]) == 0
    return out


def test_the_character_tokenizer_round_trips_every_dialect_mark() -> None:
    tokenizer = build_char_tokenizer(["до́м"])
    text = "Ба́тюшка на‿гору̀ " + " ".join(f"а{mark}" for mark in sorted(DIALECT_MARKS))
    ids = tokenizer(text).input_ids
    assert ids[0] == tokenizer.bos_token_id
    assert ids[-1] == tokenizer.eos_token_id
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    assert tokenizer("ж☃").input_ids[2] == tokenizer.unk_token_id  # outside the alphabet: unknown, not dropped


def test_a_time_budget_ends_training_and_a_bad_image_size_is_refused(
    training_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "budget"
    job = RecognizerTraining(
        data=training_set / "recognizer",
        out=out,
        size="tiny",
        steps=1_000_000,
        batch_size=4,
        eval_every=1_000_000,
        eval_words=4,
        minutes=0.05,
    )
    result = train_recognizer(job, lambda line: None)
    assert 0 < result.steps < 1_000_000
    assert 2.5 <= result.seconds < 60
    assert (out / "config.json").is_file()
    code = main(
        ["train", "recognizer", "--data", str(training_set), "--out", str(tmp_path / "x"), "--image-size", "30x100"]
    )
    assert code == 2
    assert "multiples of 8" in capsys.readouterr().err


def test_a_swin_encoder_from_scratch_is_what_the_worker_loads(training_set: Path, tmp_path: Path) -> None:
    from transformers import VisionEncoderDecoderModel

    out = tmp_path / "swin"
    job = RecognizerTraining(
        data=training_set / "recognizer",
        out=out,
        size="tiny",
        encoder="swin",
        steps=3,
        batch_size=4,
        eval_every=3,
        eval_words=4,
    )
    assert train_recognizer(job, lambda line: None).steps == 3
    model = VisionEncoderDecoderModel.from_pretrained(out)
    assert model.config.encoder.model_type == "swin"
    assert "swin encoder" in (out / "README.md").read_text(encoding="utf-8")


class Interrupted(Exception):
    pass


def test_training_learns_resumes_and_writes_a_model_the_worker_loads(
    training_set: Path, tmp_path: Path, tiny_detector: Path
) -> None:
    out = tmp_path / "recognizer"
    job = RecognizerTraining(
        data=training_set / "recognizer",
        out=out,
        size="tiny",
        steps=120,
        batch_size=16,
        learning_rate=1e-3,
        warmup_steps=10,
        eval_every=60,
        eval_words=16,
    )

    def stop_at_first_report(line: str) -> None:
        raise Interrupted(line)

    with pytest.raises(Interrupted, match="step 60/120"):
        train_recognizer(job, stop_at_first_report)
    assert (out / "checkpoint" / "state.pt").is_file()
    lines: list[str] = []
    result = train_recognizer(replace(job, resume=True), lines.append)
    assert lines[0].startswith("resumed at step 60")
    assert result.steps == 120
    assert [h["step"] for h in result.history] == [60, 120]
    assert result.history[1]["loss"] < result.history[0]["loss"] < 4.5  # it learns (from ~5 at the start)
    assert result.validation_cer is not None
    assert not (out / "checkpoint").exists()
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "trained from scratch" in card
    assert f"{result.validation_cer:.4f}" in card
    assert json.loads((out / "training.json").read_text())["result"]["steps"] == 120

    settings = Settings.model_validate(
        {
            "recognition": {
                "detector": {"model": str(tiny_detector), "conf": 0.0, "imgsz": 320, "max_det": 8},
                "recognizer": {"model": str(out), "batch_size": 8},
            },
            "inference": {"device": "cpu"},
        }
    )

    async def read_one() -> None:
        container = recognition_container(settings)
        try:
            recognize = await container.get(CardRecognition)
            scan = next((training_set / "detector" / "images").rglob("*.jpg")).read_bytes()
            transcript = await recognize(scan)
            assert [m.name for m in transcript.models if m.role == "recognizer"] == [str(out)]
        finally:
            await container.close()

    asyncio.run(read_one())


def test_train_detector_writes_a_checkpoint_the_worker_loads(
    training_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_recognizer: Path
) -> None:
    out = tmp_path / "detector"
    code = main(
        [
            *("train", "detector", "--data", str(training_set), "--out", str(out), "--base", "yolov8n.yaml"),
            *("--epochs", "1", "--imgsz", "64", "--batch-size", "2", "--device", "cpu"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (out / "model.pt").is_file()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"recognition:\n  detector: {{model: '{out / 'model.pt'}', imgsz: 64}}\n"
        f"  recognizer: {{model: '{tiny_recognizer}'}}\ninference: {{device: cpu}}\n",
        encoding="utf-8",
    )
    scan = next((training_set / "detector" / "images").rglob("*.jpg"))
    capsys.readouterr()
    assert main(["--config", str(config), "recognize", str(scan)]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in result["transcript"]["models"] if m["role"] == "detector"] == [str(out / "model.pt")]


def test_training_refuses_a_missing_set_with_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "recognizer", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--device", "cpu"]) == 2
    assert "no training words" in capsys.readouterr().err
    assert main(["train", "detector", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--device", "cpu"]) == 2
    assert "no data.yaml there" in capsys.readouterr().err
