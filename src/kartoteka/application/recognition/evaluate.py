"""EvaluateRecognition: read cards whose true text is known and say how far the models are from it.

The archive's question is how the models do on *its* cards, so the same
pipeline the worker runs reads each card (nothing is simplified for the
measurement), and a card the pipeline cannot read counts as read empty: a
failure is the worst reading, never a card quietly left out of the figures.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass

from kartoteka.application.recognition.errors import RecognitionError
from kartoteka.application.shared.images import UnreadableImageError, UnsupportedImageError
from kartoteka.domain.recognition.quality import CardScore, QualitySummary, ReferenceCard, score_card
from kartoteka.domain.recognition.transcript import ModelIdentity, Transcript


@dataclass(frozen=True, slots=True)
class EvaluationSample:
    """One card of an evaluation set: its scan and what a person says it reads."""

    name: str
    image: bytes
    reference: ReferenceCard


@dataclass(frozen=True, slots=True)
class Evaluation:
    scores: tuple[CardScore, ...]
    summary: QualitySummary
    reading_seconds: float  # time spent in the pipeline, loading the set excluded
    words_read: int
    models: tuple[ModelIdentity, ...]
    failed: tuple[tuple[str, str], ...]  # (card, why) for cards the pipeline could not read

    @property
    def cards_per_s(self) -> float:
        return len(self.scores) / self.reading_seconds if self.reading_seconds > 0 else 0.0

    @property
    def words_per_s(self) -> float:
        return self.words_read / self.reading_seconds if self.reading_seconds > 0 else 0.0

    def worst(self, count: int) -> list[CardScore]:
        """The cards with the highest character error rate, worst first."""
        return sorted(self.scores, key=lambda s: (-s.cer, s.name))[:count]


Progress = Callable[[int, str], Awaitable[None] | None]


class EvaluateRecognition:
    """Read each sample with ``recognize`` (a :class:`RecognizeCard` in production) and score it."""

    def __init__(
        self, recognize: Callable[[bytes], Awaitable[Transcript]], timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self._recognize = recognize
        self._timer = timer

    async def __call__(self, samples: AsyncIterable[EvaluationSample], progress: Progress | None = None) -> Evaluation:
        scores: list[CardScore] = []
        failed: list[tuple[str, str]] = []
        models: tuple[ModelIdentity, ...] = ()
        seconds = 0.0
        words = 0
        async for sample in samples:
            started = self._timer()
            try:
                reading = await self._recognize(sample.image)
            except (UnreadableImageError, UnsupportedImageError, RecognitionError) as exc:
                reading = Transcript(width=0, height=0, lines=())
                failed.append((sample.name, str(exc)))
            seconds += self._timer() - started
            models = reading.models or models
            words += len(reading.words)
            scores.append(score_card(sample.reference, reading))
            if progress is not None:
                reported = progress(len(scores), sample.name)
                if reported is not None:
                    await reported
        return Evaluation(
            scores=tuple(scores),
            summary=QualitySummary.of(scores),
            reading_seconds=seconds,
            words_read=words,
            models=models,
            failed=tuple(failed),
        )
