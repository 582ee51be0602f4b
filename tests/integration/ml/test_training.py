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
from kartoteka.infrastructure.ml.training.ctc_alignment import build_ctc_head, ctc_loss, encoder_grid
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


def test_the_ctc_loss_reads_the_encoder_grid_column_by_column() -> None:
    import torch
    from transformers import SwinConfig, ViTConfig

    assert encoder_grid(ViTConfig(patch_size=8), 32, 128) == (4, 16)
    assert encoder_grid(SwinConfig(patch_size=4, depths=[2, 2]), 32, 128) == (4, 16)
    assert encoder_grid(ViTConfig(patch_size=16), 384, 384) == (24, 24)

    rows, columns, vocabulary, blank = 2, 6, 5, 0
    head = build_ctc_head(vocabulary, rows, vocabulary)
    with torch.no_grad():  # each column's score is its first row's state: a grid can spell a word outright
        head.weight.zero_()
        head.bias.zero_()
        head.weight[:, :vocabulary] = torch.eye(vocabulary) * 20
    spelled = [1, 0, 2, 0, 3, 0]  # "1 2 3" with blanks between
    grid = torch.zeros(1, rows * columns, vocabulary)
    for column, token in enumerate(spelled):
        grid[0, column, token] = 1.0  # row 0 of the raster-ordered grid
    with_class_token = torch.cat([torch.full((1, 1, vocabulary), 5.0), grid], dim=1)
    right = ctc_loss(head, with_class_token, torch.tensor([[1, 2, 3, 4, -100]]), blank, ignore={4})
    wrong = ctc_loss(head, with_class_token, torch.tensor([[3, 2, 1, 4, -100]]), blank, ignore={4})
    too_long = ctc_loss(head, grid, torch.tensor([[1, 1, 1, 1, 1, 1, 1]]), blank, ignore=set())
    assert right.item() < 0.01 < 1.0 < wrong.item()
    assert too_long.item() == 0.0  # more characters than columns: left out rather than infinite


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
    code = main(["train", "recognizer", "--data", str(training_set), "--out", str(tmp_path / "y"), "--patch", "32x5"])
    assert code == 2
    assert "patch 32x5 does not tile the image size 32x128" in capsys.readouterr().err


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


def test_a_model_trained_on_two_words_reads_them_back_from_their_first_letter(
    training_set: Path, tmp_path: Path
) -> None:
    """A loss shifted by one place (the next token but one) would still fall, but the words would lose a letter."""
    records = [json.loads(line) for line in (training_set / "recognizer" / "train" / "metadata.jsonl").open()]
    words = [r for r in records if len(r["text"]) >= 4][:2]
    data = tmp_path / "two-words"
    for split in ("train", "validation"):
        (data / split).mkdir(parents=True)
        for record in words:
            source = training_set / "recognizer" / "train" / record["file_name"]
            (data / split / record["file_name"]).write_bytes(source.read_bytes())
        lines = [json.dumps({"file_name": r["file_name"], "text": r["text"]}, ensure_ascii=False) for r in words]
        (data / split / "metadata.jsonl").write_text("\n".join(lines), encoding="utf-8")
    job = RecognizerTraining(
        data=data,
        out=tmp_path / "memorised",
        size="tiny",
        steps=150,
        batch_size=2,
        learning_rate=2e-3,
        warmup_steps=10,
        eval_every=150,
        eval_words=2,
    )
    assert train_recognizer(job, lambda line: None).validation_cer == 0.0


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
    assert result.history[1]["ctc_loss"] < result.history[0]["ctc_loss"]  # the encoder learns where characters are
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
