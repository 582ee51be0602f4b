"""``kartoteka dataset``: what a written training set holds, and how to train on it."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from kartoteka.application.recognition.ports.training_sets import Split, TrainingSetSummary


def print_summary(summary: TrainingSetSummary, out_dir: Path, out: TextIO) -> None:
    for split in Split:
        print(f"{split.value:<10}  {summary.cards[split]:>6} cards  {summary.words[split]:>7} words", file=out)
    if summary.skipped_words:
        print(f"skipped     {summary.skipped_words} words without a box or text", file=out)
    print(f"recogniser: {out_dir / 'recognizer'} (image folder with metadata.jsonl)", file=out)
    print(f"detector:   {out_dir / 'detector' / 'data.yaml'}", file=out)
