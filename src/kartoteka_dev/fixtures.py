"""``kartoteka dev fixtures``: everything needed to try the pipeline without real models."""

from __future__ import annotations

from pathlib import Path

from kartoteka_dev.synthetic_cards import write_cards
from kartoteka_dev.tiny_models import build_tiny_models


def write_fixtures(directory: Path, *, cards: int = 3, onnx: bool = False) -> Path:
    """Build tiny models and synthetic cards under ``directory``; return the config that uses them."""
    root = directory.resolve()
    models = build_tiny_models(root / "models", with_onnx=onnx)
    written = write_cards(root / "cards", cards, seed=0)
    config = root / "config.yaml"
    # Untrained models: a detector that finds nothing at a real threshold, so
    # the demo accepts every candidate box and the words read are noise.
    config.write_text(
        "# Tiny untrained models: the pipeline runs end to end; what it reads is noise.\n"
        "recognition:\n"
        "  detector:\n"
        f"    model: {models.detector}\n"
        "    conf: 0.0\n"
        "    imgsz: 320\n"
        "    max_det: 40\n"
        "  recognizer:\n"
        f"    model: {models.recognizer}\n",
        encoding="utf-8",
    )
    gallery = write_gallery(root / "gallery")
    print(f"models: {root / 'models'}")
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
