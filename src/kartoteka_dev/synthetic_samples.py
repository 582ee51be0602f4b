"""Synthetic cards as ground-truth samples: training and evaluation sets with no archive at all."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

from kartoteka.application.recognition.evaluate import EvaluationSample
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.quality import ReferenceCard, ReferenceWord
from kartoteka_dev.synthetic_cards import render_card


async def synthetic_samples(count: int, seed: int = 0) -> AsyncIterator[EvaluationSample]:
    """Cards ``seed .. seed + count - 1``, drawn one at a time (the same seed gives the same card)."""
    for n in range(seed, seed + count):
        card = render_card(n)
        buffer = io.BytesIO()
        card.image.save(buffer, format="PNG")
        name = f"synthetic-{n:06d}.png"
        lines = tuple(tuple(ReferenceWord(w.text, Box(*map(float, w.box))) for w in line) for line in card.lines)
        yield EvaluationSample(name, buffer.getvalue(), ReferenceCard(name, lines))
