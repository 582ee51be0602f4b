"""BuildTrainingSet: whole cards go to one side, the same side on every export, and small sets still validate."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kartoteka.application.recognition.evaluate import EvaluationSample
from kartoteka.application.recognition.ports.training_sets import Split
from kartoteka.application.recognition.training_sets import BuildTrainingSet, split_of
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.quality import ReferenceCard, ReferenceWord


class ListedWriter:
    def __init__(self) -> None:
        self.cards: dict[str, Split] = {}
        self.finished = False

    def add(self, sample: EvaluationSample, split: Split) -> tuple[int, int]:
        self.cards[sample.name] = split
        boxed = [w for w in sample.reference.words if w.box is not None]
        return len(boxed), len(sample.reference.words) - len(boxed)

    def finish(self) -> None:
        self.finished = True


def sample(name: str) -> EvaluationSample:
    words = (ReferenceWord("до\u0301м", Box(0, 0, 10, 10)), ReferenceWord("без рамки"))
    return EvaluationSample(name, b"", ReferenceCard(name, (words,)))


async def stream(names: list[str]) -> AsyncIterator[EvaluationSample]:
    for name in names:
        yield sample(name)


async def test_cards_split_whole_and_stably() -> None:
    names = [f"card-{n}.png" for n in range(200)]
    first, again = ListedWriter(), ListedWriter()
    summary = await BuildTrainingSet(first, 0.2)(stream(names))
    await BuildTrainingSet(again, 0.2)(stream(list(reversed(names))))
    assert first.cards == again.cards  # the same side whatever order the cards come in
    assert first.finished
    assert summary.cards[Split.TRAIN] + summary.cards[Split.VALIDATION] == 200
    assert 20 <= summary.cards[Split.VALIDATION] <= 60  # about a fifth
    assert summary.words[Split.TRAIN] == summary.cards[Split.TRAIN]  # one boxed word per card
    assert summary.skipped_words == 200


async def test_a_small_set_still_gets_a_card_to_validate_on() -> None:
    train_only = [n for n in (f"c{i}" for i in range(500)) if split_of(n, 0.25) is Split.TRAIN][:6]
    writer = ListedWriter()
    summary = await BuildTrainingSet(writer, 0.25)(stream(train_only))
    assert summary.cards[Split.VALIDATION] == 1
    assert writer.cards[train_only[4]] is Split.VALIDATION  # after 1 / 0.25 = 4 cards in training


async def test_no_validation_share_keeps_every_card_for_training() -> None:
    summary = await BuildTrainingSet(ListedWriter(), 0.0)(stream(["a", "b", "c"]))
    assert summary.cards == {Split.TRAIN: 3, Split.VALIDATION: 0}


def test_a_share_of_one_or_more_is_refused() -> None:
    with pytest.raises(ValueError, match="fraction below 1"):
        BuildTrainingSet(ListedWriter(), 1.0)
