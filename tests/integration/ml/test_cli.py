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


def test_eval_scores_cards_against_their_ground_truth(
    config: Path, card_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    directory = card_files[0].parent  # write_cards put ground_truth.json beside the scans
    assert main(["--config", str(config), "eval", "--format", "json", "--worst", "1", str(directory)]) == 0
    report = json.loads(capsys.readouterr().out)
    truth = json.loads((directory / "ground_truth.json").read_text(encoding="utf-8"))
    assert report["cards"] == 2
    assert report["detection"]["expected"] == sum(len(line) for card in truth for line in card["lines"])
    assert [m["role"] for m in report["models"]] == ["detector", "recognizer"]
    assert len(report["worst"]) == 1
    for key in ("cer", "wer", "stress_accuracy", "detection_f1", "line_accuracy", "words_per_s"):
        assert report[key] >= 0, key
    assert report["failed"] == []


def test_eval_against_what_the_pipeline_reads_is_perfect(
    config: Path, card_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same coordinates, text and reading order on both sides: any slip in the chain shows here."""
    assert main(["--config", str(config), "recognize", *map(str, card_files)]) == 0
    readings = json.loads(capsys.readouterr().out)
    truth = []
    for card, reading in zip(card_files, readings, strict=True):
        (tmp_path / card.name).write_bytes(card.read_bytes())
        read_lines = reading["transcript"]["lines"]
        lines = [[{"text": w["text"], "box": w["box"]} for w in line["words"]] for line in read_lines]
        truth.append({"file": card.name, "lines": lines})
    (tmp_path / "ground_truth.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
    assert main(["--config", str(config), "eval", "--format", "json", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["cer"], report["wer"], report["detection_f1"], report["line_accuracy"]) == (0.0, 0.0, 1.0, 1.0)
    assert report["stress_accuracy"] == 1.0


def test_eval_prints_a_table_and_refuses_a_directory_without_ground_truth(
    config: Path, card_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "eval", str(card_files[0].parent)]) == 0
    table = capsys.readouterr().out
    for row in ("cards", "CER", "WER", "stress marks", "word detection", "line grouping", "model (recognizer)"):
        assert row in table
    assert main(["--config", str(config), "eval", str(tmp_path)]) == 2
    assert "no ground_truth.json and no PAGE or ALTO files" in capsys.readouterr().err


def test_dataset_synth_and_export_write_training_sets(
    card_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synth = tmp_path / "synth"
    assert main(["dataset", "synth", str(synth), "--cards", "2", "--seed", "40", "--validation", "0.5"]) == 0
    assert "validation" in capsys.readouterr().out
    crops = [
        json.loads(line)
        for split in ("train", "validation")
        if (synth / "recognizer" / split / "metadata.jsonl").exists()
        for line in (synth / "recognizer" / split / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len({c["card"] for c in crops}) == 2
    assert len(list((synth / "detector" / "images").rglob("*.jpg"))) == 2
    assert (synth / "detector" / "data.yaml").is_file()

    assert main(["dataset", "synth", str(synth), "--cards", "2"]) == 2  # never mixed into an earlier set
    assert "not an empty directory" in capsys.readouterr().err

    exported = tmp_path / "exported"
    assert main(["dataset", "export", str(exported), "--from", str(card_files[0].parent)]) == 0
    truth = json.loads((card_files[0].parent / "ground_truth.json").read_text(encoding="utf-8"))
    written = sum(
        len(p.read_text(encoding="utf-8").splitlines()) for p in (exported / "recognizer").rglob("metadata.jsonl")
    )
    assert written == sum(len(line) for card in truth for line in card["lines"])


def test_dataset_synth_in_parallel_writes_the_same_set_and_checks_its_fonts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    klee = Path("/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf")
    common = ["--cards", "3", "--seed", "90", "--validation", "0.34", "--font", str(klee)]
    assert main(["dataset", "synth", str(tmp_path / "one"), *common]) == 0
    assert main(["dataset", "synth", str(tmp_path / "two"), *common, "--workers", "2"]) == 0
    sets = [
        [(p.relative_to(root), p.read_text(encoding="utf-8")) for p in sorted(root.rglob("metadata.jsonl"))]
        for root in (tmp_path / "one", tmp_path / "two")
    ]
    assert sets[0]
    assert sets[0] == sets[1]
    first = sorted((tmp_path / "one" / "detector" / "images").rglob("*.jpg"))
    assert [p.read_bytes() for p in first] == [
        (tmp_path / "two" / p.relative_to(tmp_path / "one")).read_bytes() for p in first
    ]
    capsys.readouterr()

    not_a_font = tmp_path / "notes.ttf"
    not_a_font.write_text("not a font", encoding="utf-8")
    assert main(["dataset", "synth", str(tmp_path / "three"), "--cards", "1", "--font", str(not_a_font)]) == 2
    assert "not a font file that draws Russian text" in capsys.readouterr().err


def test_dev_cards_writes_held_out_cards_in_the_font_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seto = "/usr/share/fonts/truetype/seto/setofont.ttf"
    assert main(["dev", "cards", str(tmp_path), "--cards", "2", "--seed", "123", "--font", seto]) == 0
    truth = json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))
    assert [card["file"] for card in truth] == ["card_00123.png", "card_00124.png"]
    assert "2 cards" in capsys.readouterr().out
