"""The committed demo detector finds the words of fresh synthetic cards: a guard on the detection pipeline.

Cards of a seed no training set used, in fonts the detector was trained on,
go through ``kartoteka eval`` with ``kartoteka dev fixtures``' detector
settings, the way a newcomer's ``make run`` reads them. The bounds are looser
than the figures models/demo/detector/README.md reports on 100 cards, so the
few cards here cannot fail by chance, yet a broken resize, letterbox,
threshold or line grouping change lands far below them. (The recogniser here
is the tiny untrained one: only the boxes and lines are judged.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kartoteka.entrypoint import main
from kartoteka_dev.fixtures import DEMO_DETECTOR, DEMO_DETECTOR_SETTINGS
from kartoteka_dev.synthetic_cards import write_cards

#: Fonts the demo detector was trained on (scripts/train-demo-models.sh) and the one left out of its training.
TRAINED_FONTS = ("KleeOne-Regular", "setofont", "kiloji")
HELD_OUT_FONT = "SteveHand"


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory, tiny_recognizer: Path) -> Path:
    assert DEMO_DETECTOR.is_file(), f"the demo detector is missing: {DEMO_DETECTOR}"
    detector = ", ".join(f"{k}: {v}" for k, v in DEMO_DETECTOR_SETTINGS.items())
    path = tmp_path_factory.mktemp("demo") / "config.yaml"
    path.write_text(
        "recognition:\n"
        f"  detector: {{model: '{DEMO_DETECTOR}', {detector}}}\n"
        f"  recognizer: {{model: '{tiny_recognizer}'}}\n"
        "inference: {device: cpu}\n",
        encoding="utf-8",
    )
    return path


def _evaluate(config: Path, directory: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["--config", str(config), "eval", "--format", "json", str(directory)]) == 0
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


@pytest.mark.parametrize("font", [*TRAINED_FONTS, HELD_OUT_FONT])
def test_the_demo_detector_finds_the_words_of_fresh_cards(
    font: str, demo_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = next(Path("/usr/share/fonts/truetype").rglob(f"{font}.ttf"))
    write_cards(tmp_path, 2, seed=700_000 + sum(map(ord, font)), font_paths=[path])
    report = _evaluate(demo_config, tmp_path, capsys)
    assert report["cards"] == 2
    assert report["failed"] == []
    assert isinstance(report["detection_f1"], float)
    assert isinstance(report["line_accuracy"], float)
    assert report["detection_f1"] >= 0.85, report["detection"]
    assert report["line_accuracy"] >= 0.85, report
