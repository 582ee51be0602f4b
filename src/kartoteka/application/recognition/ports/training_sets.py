"""Where training examples go: word crops for the recogniser and whole cards for the detector."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from kartoteka.application.recognition.evaluate import EvaluationSample


class Split(enum.StrEnum):
    TRAIN = "train"
    VALIDATION = "validation"


@dataclass(frozen=True, slots=True)
class TrainingSetSummary:
    cards: dict[Split, int]
    words: dict[Split, int]
    skipped_words: int  # words without a box or text: nothing to crop or to learn


class TrainingSetWriter(Protocol):
    def add(self, sample: EvaluationSample, split: Split) -> tuple[int, int]:
        """Write one card's examples; return (words written, words skipped)."""
        ...

    def finish(self) -> None:
        """Write what describes the whole set (the detector's data.yaml)."""
        ...
