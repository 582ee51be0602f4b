"""BuildTrainingSet: cards with their true words become a recogniser and a detector training set.

Cards, not words, are split between training and validation: words of one
card share its hand, ink and paper, so a card on both sides would make the
validation figures look better than the models are. The split is a stable
hash of the card's name, so exporting again after more corrections keeps
earlier cards on the side they were on (the one exception: a set that has
no validation card yet once ``1 / share`` cards went to training sends the
next card there, so a small set can still be validated on).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable

from kartoteka.application.recognition.evaluate import EvaluationSample
from kartoteka.application.recognition.ports.training_sets import Split, TrainingSetSummary, TrainingSetWriter


def split_of(name: str, validation_share: float) -> Split:
    bucket = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") / 2**64
    return Split.VALIDATION if bucket < validation_share else Split.TRAIN


class BuildTrainingSet:
    def __init__(self, writer: TrainingSetWriter, validation_share: float = 0.1) -> None:
        if not 0 <= validation_share < 1:
            raise ValueError("the validation share is a fraction below 1")
        self._writer = writer
        self._share = validation_share

    async def __call__(self, samples: AsyncIterable[EvaluationSample]) -> TrainingSetSummary:
        cards = dict.fromkeys(Split, 0)
        words = dict.fromkeys(Split, 0)
        skipped = 0
        async for sample in samples:
            split = split_of(sample.name, self._share)
            if self._share and cards[Split.VALIDATION] == 0 and cards[Split.TRAIN] >= round(1 / self._share):
                split = Split.VALIDATION  # a small set still gets a card to validate on
            written, passed = self._writer.add(sample, split)
            cards[split] += 1
            words[split] += written
            skipped += passed
        self._writer.finish()
        return TrainingSetSummary(cards=cards, words=words, skipped_words=skipped)
