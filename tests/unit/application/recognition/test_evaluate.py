"""EvaluateRecognition over in-memory readings: totals, failures, throughput and the worst cards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from kartoteka.application.recognition.evaluate import EvaluateRecognition, EvaluationSample
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.quality import ReferenceCard, ReferenceWord
from kartoteka.domain.recognition.transcript import ModelIdentity, Transcript, TranscriptLine, TranscriptWord

MODELS = (ModelIdentity("detector", "d", "1"), ModelIdentity("recognizer", "r", "2"))


def card(name: str, *words: str) -> ReferenceCard:
    return ReferenceCard(name, (tuple(ReferenceWord(w, Box(60 * i, 0, 60 * i + 50, 20)) for i, w in enumerate(words)),))


def read_as(*words: str) -> Transcript:
    words_ = tuple(TranscriptWord(w, Box(60 * i, 0, 60 * i + 50, 20), 0.9, 0.9) for i, w in enumerate(words))
    line = TranscriptLine(words_)
    return Transcript(400, 100, (line,), MODELS)


READINGS = {b"good": read_as("до\u0301м", "стоит"), b"poor": read_as("дым")}


async def recognize(data: bytes) -> Transcript:
    if data not in READINGS:
        raise UnreadableImageError("not an image")
    return READINGS[data]


async def stream(*samples: EvaluationSample) -> AsyncIterator[EvaluationSample]:
    for sample in samples:
        yield sample


def ticking() -> Iterator[float]:
    t = 0.0
    while True:
        yield t
        t += 0.5


async def test_figures_are_totals_over_the_cards_and_failures_count_as_empty_readings() -> None:
    clock = ticking()
    evaluate = EvaluateRecognition(recognize, timer=lambda: next(clock))
    seen: list[tuple[int, str]] = []
    evaluation = await evaluate(
        stream(
            EvaluationSample("a.png", b"good", card("a.png", "до\u0301м", "стоит")),
            EvaluationSample("b.png", b"poor", card("b.png", "дом")),
            EvaluationSample("c.png", b"broken", card("c.png", "лес")),
        ),
        progress=lambda done, name: seen.append((done, name)),
    )
    assert seen == [(1, "a.png"), (2, "b.png"), (3, "c.png")]
    # a: 0 of 10 chars ("до́м стоит", the mark is one); b: 1 of 3 (о→ы); c: unreadable, 3 of 3 missing.
    assert evaluation.summary.cer == pytest.approx(4 / 16)
    assert evaluation.summary.wer == pytest.approx(2 / 4)
    assert evaluation.summary.detection.f1 == pytest.approx(2 * 1.0 * 0.75 / 1.75)
    assert evaluation.failed == (("c.png", "not an image"),)
    assert [s.name for s in evaluation.worst(2)] == ["c.png", "b.png"]
    assert evaluation.models == MODELS
    assert evaluation.reading_seconds == pytest.approx(1.5)  # three readings of 0.5 s on the fake clock
    assert (evaluation.cards_per_s, evaluation.words_per_s) == (pytest.approx(2.0), pytest.approx(2.0))
