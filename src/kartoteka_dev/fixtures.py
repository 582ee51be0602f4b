"""``kartoteka dev fixtures``: everything needed to try the pipeline without the published models.

The checkout's trained demo models (``models/demo``) are used where they are
there: they find and read the words of a card. A model that is not there, or
every model with ``untrained``, is a tiny untrained model of the same
architecture instead, for what only needs the code path; what an untrained
recogniser reads is noise. The directory is
self-contained, the models copied in, so it can be mounted into a container
as it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from kartoteka_dev.synthetic_cards import write_cards
from kartoteka_dev.tiny_models import build_tiny_detector, build_tiny_recognizer, export_recognizer_onnx

#: The demo models committed with the checkout (each one's README.md says how it was made and measured).
DEMO_MODELS = Path(__file__).resolve().parents[2] / "models" / "demo"
DEMO_DETECTOR = DEMO_MODELS / "detector" / "model.pt"
DEMO_RECOGNIZER = DEMO_MODELS / "recognizer"
#: The settings the demo detector was measured with (``kartoteka eval``, models/demo/detector/README.md).
DEMO_DETECTOR_SETTINGS = {"conf": 0.25, "imgsz": 416, "max_det": 100}
UNTRAINED_DETECTOR_SETTINGS = {"conf": 0.0, "imgsz": 320, "max_det": 40}


def demo_recognition_settings() -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The detector and recogniser settings that read with the committed demo models; None unless both are here."""
    if not (DEMO_DETECTOR.is_file() and (DEMO_RECOGNIZER / "config.json").is_file()):
        return None
    return {"model": str(DEMO_DETECTOR), **DEMO_DETECTOR_SETTINGS}, {"model": str(DEMO_RECOGNIZER)}


def write_fixtures(directory: Path, *, cards: int = 3, onnx: bool = False, untrained: bool = False) -> Path:
    """Models and synthetic cards under ``directory``; return the config that uses them."""
    root = directory.resolve()
    written = write_cards(root / "cards", cards, seed=0)
    models = root / "models"
    demo_detector = not untrained and DEMO_DETECTOR.is_file()
    demo_recognizer = not untrained and not onnx and (DEMO_RECOGNIZER / "config.json").is_file()
    # Only the models missing from models/demo are built.
    if demo_detector:
        shutil.copytree(DEMO_DETECTOR.parent, models / "demo-detector", dirs_exist_ok=True)
        detector, settings = models / "demo-detector" / DEMO_DETECTOR.name, DEMO_DETECTOR_SETTINGS
    else:
        detector, settings = build_tiny_detector(models / "yolo"), UNTRAINED_DETECTOR_SETTINGS
    if demo_recognizer:
        shutil.copytree(DEMO_RECOGNIZER, models / "demo-recognizer", dirs_exist_ok=True)
        recognizer = models / "demo-recognizer"
    else:
        recognizer = build_tiny_recognizer(models / "trocr")
        if onnx:
            export_recognizer_onnx(recognizer, models / "trocr-onnx")
    trained, untrained_kind = "the trained demo model", "tiny, untrained"
    kinds = (
        f"detector: {trained if demo_detector else untrained_kind + ' (it finds no words at a real threshold)'}",
        f"recogniser: {trained if demo_recognizer else untrained_kind + ' (what it reads is noise)'}",
    )
    lines = [*(f"# {kind}" for kind in kinds), "recognition:", "  detector:", f"    model: {detector}"]
    lines += [f"    {k}: {v}" for k, v in settings.items()]
    lines += ["  recognizer:", f"    model: {recognizer}"]
    config = root / "config.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    gallery = write_gallery(root / "gallery")
    print(f"models: {models} ({'; '.join(kinds)})")
    print(f"gallery: {gallery} (sketches to search by drawing)")
    print(f"cards:  {', '.join(str(p) for p, _ in written)}")
    print(f"config: {config}")
    print(f"try:    kartoteka --config {config} recognize {written[0][0]}")
    return config


def write_gallery(directory: Path, per_shape: int = 2) -> Path:
    """Hand-drawn LASA shapes as PNG files: a small gallery for ``serve --watch`` to index and search."""
    from kartoteka_dev.tiny_embedders import lasa_sketches

    directory.mkdir(parents=True, exist_ok=True)
    for sketch in lasa_sketches(size=256):
        if sketch.demo < per_shape:
            (directory / f"{sketch.label}-{sketch.demo}.png").write_bytes(sketch.png)
    return directory
