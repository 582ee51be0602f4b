"""Synthetic cards as ground-truth samples: training and evaluation sets with no archive at all."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from kartoteka.application.recognition.evaluate import EvaluationSample
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.quality import ReferenceCard, ReferenceWord
from kartoteka_dev.synthetic_cards import render_card


def _sample(n: int, fonts: Sequence[Path] | None) -> EvaluationSample:
    card = render_card(n, font_paths=fonts)
    buffer = io.BytesIO()
    card.image.save(buffer, format="PNG")
    name = f"synthetic-{n:06d}.png"
    lines = tuple(tuple(ReferenceWord(w.text, Box(*map(float, w.box))) for w in line) for line in card.lines)
    return EvaluationSample(name, buffer.getvalue(), ReferenceCard(name, lines))


async def synthetic_samples(
    count: int, seed: int = 0, *, fonts: Sequence[Path] | None = None, workers: int = 1
) -> AsyncIterator[EvaluationSample]:
    """Cards ``seed .. seed + count - 1`` in seed order (the same seed and fonts give the same card).

    With ``workers > 1`` the cards are drawn in that many processes, a few
    ahead of the consumer, so a large training set costs minutes rather than
    an hour; the order, and so every card's side of the split, is unchanged.
    """
    chosen = tuple(fonts) if fonts else None
    if workers <= 1:
        for n in range(seed, seed + count):
            yield _sample(n, chosen)
        return
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers) as pool:
        ahead = 4 * workers
        pending = [loop.run_in_executor(pool, _sample, n, chosen) for n in range(seed, seed + min(count, ahead))]
        following = seed + len(pending)
        while pending:
            sample = await pending.pop(0)
            if following < seed + count:
                pending.append(loop.run_in_executor(pool, _sample, following, chosen))
                following += 1
            yield sample
