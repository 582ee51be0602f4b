"""CorrectionsAsGroundTruth: the cards linguists corrected, with their scans, as evaluation samples.

What a person settled on is the truth the models are measured against and
trained on: the words and the boxes of the latest correction (a box a person
moved or a word they split is the corrected geometry), and the scan as stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from kartoteka.application.recognition.evaluate import EvaluationSample
from kartoteka.application.recognition.ports.corrected_cards import CorrectedCard, CorrectedCards
from kartoteka.application.shared.storage import ObjectNotFoundError, ObjectStorage
from kartoteka.domain.recognition.quality import ReferenceCard, ReferenceWord

log = logging.getLogger(__name__)


def reference_of(card: CorrectedCard) -> ReferenceCard:
    lines = tuple(
        tuple(ReferenceWord(word.text, word.box) for word in line.words if word.text) for line in card.transcript.lines
    )
    return ReferenceCard(f"{card.task_id}/{card.filename}", lines)


class CorrectionsAsGroundTruth:
    def __init__(self, cards: CorrectedCards, storage: ObjectStorage) -> None:
        self._cards = cards
        self._storage = storage

    async def __call__(self) -> AsyncIterator[EvaluationSample]:
        """Every corrected card with its scan; one whose scan is gone (deleted meanwhile) is logged and passed over."""
        async for card in self._cards.latest():
            try:
                stored = await self._storage.get(card.image_key)
            except ObjectNotFoundError:
                log.warning("corrected card %s has no scan any more (%s); left out", card.task_id, card.image_key)
                continue
            reference = reference_of(card)
            yield EvaluationSample(reference.name, stored.data, reference)
