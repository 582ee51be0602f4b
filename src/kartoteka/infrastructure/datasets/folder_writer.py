"""FolderTrainingSet: an image folder for the recogniser and a YOLO set for the detector.

Layout under ``OUT``::

    recognizer/train/metadata.jsonl         {"file_name": "...png", "text": "...", "card": "..."} per crop
    recognizer/train/<card>-<n>.png         the word as the worker crops it (same code)
    recognizer/validation/...
    detector/images/{train,validation}/<card>.jpg   (JPEG at quality 95: what scanners write, and a
                                                    tenth of a noisy card's PNG encoding time)
    detector/labels/{train,validation}/<card>.txt   "0 cx cy w h" per word, normalised
    detector/data.yaml

``datasets.load_dataset("imagefolder", data_dir="OUT/recognizer")`` reads the
first as it is, and ultralytics trains on ``detector/data.yaml``. Crops are cut
with the recogniser's own ``crop_word`` from the upright card, so training sees
exactly what inference will.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kartoteka.application.recognition.evaluate import EvaluationSample
from kartoteka.application.recognition.ports.training_sets import Split
from kartoteka.infrastructure.ml.images import decode_card
from kartoteka.infrastructure.ml.trocr_recognizer import crop_word

WORD_CLASS = 0


def _safe(name: str) -> str:
    """A file name from a card name (task id / filename, or a scan's name), kept readable."""
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "card"


class FolderTrainingSet:
    def __init__(self, out: Path, max_pixels: int) -> None:
        self._out = out
        self._max_pixels = max_pixels
        self._names: set[str] = set()

    def add(self, sample: EvaluationSample, split: Split) -> tuple[int, int]:
        card = decode_card(sample.image, max_pixels=self._max_pixels)
        stem = self._unique(_safe(Path(sample.name).with_suffix("").as_posix()))
        crops = self._out / "recognizer" / split.value
        crops.mkdir(parents=True, exist_ok=True)
        labels: list[str] = []
        written = skipped = 0
        with (crops / "metadata.jsonl").open("a", encoding="utf-8") as metadata:
            for word in sample.reference.words:
                box = word.box.clip(card.width, card.height) if word.box is not None else None
                if box is None or box.is_degenerate or not word.text:
                    skipped += 1
                    continue
                written += 1
                file_name = f"{stem}-{written:03d}.png"
                crop_word(card, box).save(crops / file_name)
                record = {"file_name": file_name, "text": word.text, "card": sample.name}
                metadata.write(json.dumps(record, ensure_ascii=False) + "\n")
                cx, cy = (box.x1 + box.x2) / 2 / card.width, (box.y1 + box.y2) / 2 / card.height
                w, h = box.width / card.width, box.height / card.height
                labels.append(f"{WORD_CLASS} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        images = self._out / "detector" / "images" / split.value
        label_dir = self._out / "detector" / "labels" / split.value
        images.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        card.save(images / f"{stem}.jpg", quality=95)
        (label_dir / f"{stem}.txt").write_text("".join(f"{line}\n" for line in labels), encoding="utf-8")
        return written, skipped

    def finish(self) -> None:
        detector = self._out / "detector"
        detector.mkdir(parents=True, exist_ok=True)
        (detector / "data.yaml").write_text(
            f"path: {json.dumps(str(detector.absolute()))}\n"
            "train: images/train\n"
            "val: images/validation\n"
            "names:\n"
            f"  {WORD_CLASS}: word\n",
            encoding="utf-8",
        )

    def _unique(self, stem: str) -> str:
        candidate, n = stem, 1
        while candidate in self._names:
            n += 1
            candidate = f"{stem}-{n}"
        self._names.add(candidate)
        return candidate
