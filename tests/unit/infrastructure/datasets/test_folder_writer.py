"""FolderTrainingSet writes crops the recogniser would cut and YOLO labels that map back to the true boxes."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from kartoteka.application.recognition.evaluate import EvaluationSample
from kartoteka.application.recognition.ports.training_sets import Split
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.quality import ReferenceCard, ReferenceWord
from kartoteka.infrastructure.datasets.folder_writer import FolderTrainingSet


def scan(width: int = 200, height: int = 100) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    image.paste((200, 0, 0), (20, 10, 60, 30))  # the first word's ink
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def card(name: str) -> EvaluationSample:
    words = (
        ReferenceWord("до\u0301м", Box(20, 10, 60, 30)),
        ReferenceWord("", Box(70, 10, 90, 30)),  # no text: nothing to learn
        ReferenceWord("лес", None),  # no box: nothing to crop
        ReferenceWord("край", Box(150, 50, 260, 90)),  # runs off the scan: clipped to it
    )
    return EvaluationSample(name, scan(), ReferenceCard(name, (words,)))


def test_layout_crops_labels_and_data_yaml(tmp_path: Path) -> None:
    writer = FolderTrainingSet(tmp_path, max_pixels=10_000_000)
    assert writer.add(card("task/Ящик 1/карточка.png"), Split.TRAIN) == (2, 2)
    assert writer.add(card("task/Ящик 1/карточка.png"), Split.VALIDATION) == (2, 2)  # same name, own files
    writer.finish()

    records = [json.loads(line) for line in (tmp_path / "recognizer/train/metadata.jsonl").read_text().splitlines()]
    assert [r["text"] for r in records] == ["до\u0301м", "край"]
    first = Image.open(tmp_path / "recognizer/train" / records[0]["file_name"])
    assert first.size == (40, 20)
    assert first.getpixel((5, 5)) == (200, 0, 0)
    assert Image.open(tmp_path / "recognizer/train" / records[1]["file_name"]).size == (50, 40)

    [label_file] = (tmp_path / "detector/labels/train").iterdir()
    assert (tmp_path / "detector/images/train" / f"{label_file.stem}.jpg").is_file()
    cls, cx, cy, w, h = label_file.read_text().splitlines()[0].split()
    assert cls == "0"
    assert (float(cx) * 200, float(cy) * 100, float(w) * 200, float(h) * 100) == (40.0, 20.0, 40.0, 20.0)
    assert len(list((tmp_path / "detector/labels/validation").iterdir())) == 1
    data = (tmp_path / "detector/data.yaml").read_text()
    for line in ("train: images/train", "val: images/validation", "0: word"):
        assert line in data
