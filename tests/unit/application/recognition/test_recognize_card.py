"""RecognizeCard with small in-memory ports: ordering, batching, progress and cancellation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from kartoteka.application.recognition.errors import RecognitionCancelledError, RecognitionError
from kartoteka.application.recognition.ports.pipeline import Reading
from kartoteka.application.recognition.recognize_card import RecognizeCard
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.layout import Detection, LayoutRules
from kartoteka.domain.recognition.task import Progress
from kartoteka.domain.recognition.transcript import ModelIdentity, Transcript
from tests.fakes.recognition import MemoryJobMetrics


@dataclass
class Page:
    """A stand-in raster: its size and which word lives in which box."""

    width: int
    height: int
    words: dict[tuple[float, float, float, float], str]


class DictLoader:
    def __init__(self, pages: dict[bytes, Page]) -> None:
        self.pages = pages

    async def load(self, data: bytes) -> Page:
        if data not in self.pages:
            raise UnreadableImageError("not an image")
        return self.pages[data]


class ListedDetector:
    identity = ModelIdentity("detector", "listed")

    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections

    async def detect(self, image: Page) -> list[Detection]:
        return list(self.detections)


class LookupRecognizer:
    identity = ModelIdentity("recognizer", "lookup")

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.calls: list[int] = []

    async def read(self, image: Page, boxes: Sequence[Box]) -> list[Reading]:
        self.calls.append(len(boxes))
        return [Reading(image.words.get(b.as_tuple(), "?"), 0.5) for b in boxes]


CARD = Page(
    400,
    200,
    {
        (10, 10, 100, 40): "Ба́тюшка,",
        (110, 12, 150, 42): "м.",
        (10, 60, 80, 90): "Отец",
        (90, 58, 200, 92): "на‿гору",
        (10, 120, 90, 150): "1974",
    },
)


def detections_in_scrambled_order() -> list[Detection]:
    keys = list(CARD.words)
    order = [3, 0, 4, 2, 1]
    return [Detection(Box(*keys[i]), 0.9) for i in order]


async def recognize(batch_size: int = 2, **kwargs: object) -> tuple[Transcript, LookupRecognizer]:
    recognizer = LookupRecognizer(batch_size)
    use_case = RecognizeCard(
        DictLoader({b"card": CARD}), ListedDetector(detections_in_scrambled_order()), recognizer, LayoutRules()
    )
    transcript = await use_case(b"card", **kwargs)  # type: ignore[arg-type]
    return transcript, recognizer


async def test_transcript_has_lines_in_reading_order_and_plain_text() -> None:
    transcript, _ = await recognize()
    assert transcript.text == "Ба́тюшка, м.\nОтец на‿гору\n1974"
    assert [len(line.words) for line in transcript.lines] == [2, 2, 1]
    assert transcript.lines[0].words[0].box == Box(10, 10, 100, 40)
    assert (transcript.width, transcript.height) == (400, 200)
    assert [m.name for m in transcript.models] == ["listed", "lookup"]


@pytest.mark.parametrize(("batch_size", "calls"), [(1, [1] * 5), (2, [2, 2, 1]), (16, [5])])
async def test_words_are_read_in_batches_of_the_recognisers_size(batch_size: int, calls: list[int]) -> None:
    transcript, recognizer = await recognize(batch_size)
    assert recognizer.calls == calls
    assert transcript.text.count(" ") == 2


async def test_each_stage_is_timed_once_per_card() -> None:
    metrics = MemoryJobMetrics()
    use_case = RecognizeCard(
        DictLoader({b"card": CARD}),
        ListedDetector(detections_in_scrambled_order()),
        LookupRecognizer(batch_size=2),
        LayoutRules(),
        metrics,
    )
    await use_case(b"card")
    assert [stage for stage, _ in metrics.stages] == ["decode", "detect", "recognise"]  # three batches, one figure
    assert all(seconds >= 0 for _, seconds in metrics.stages)


async def test_progress_reports_every_stage_and_counts_words() -> None:
    seen: list[Progress] = []

    async def progress(p: Progress) -> None:
        seen.append(p)

    await recognize(2, progress=progress)
    assert [p.stage for p in seen[:3]] == ["decoding", "detecting", "reading"]
    assert [(p.done, p.total) for p in seen if p.stage == "reading"] == [(0, 5), (2, 5), (4, 5), (5, 5)]


async def test_cancellation_stops_between_batches() -> None:
    checks = 0

    async def cancelled() -> bool:
        nonlocal checks
        checks += 1
        return checks > 2  # allow the check after decoding and the first batch

    recognizer = LookupRecognizer(2)
    use_case = RecognizeCard(
        DictLoader({b"card": CARD}), ListedDetector(detections_in_scrambled_order()), recognizer, LayoutRules()
    )
    with pytest.raises(RecognitionCancelledError):
        await use_case(b"card", cancelled=cancelled)
    assert recognizer.calls == [2]


async def test_no_detections_gives_an_empty_transcript() -> None:
    use_case = RecognizeCard(DictLoader({b"card": CARD}), ListedDetector([]), LookupRecognizer(4), LayoutRules())
    transcript = await use_case(b"card")
    assert transcript.lines == ()
    assert transcript.text == ""


async def test_unreadable_bytes_raise_before_any_model_runs() -> None:
    recognizer = LookupRecognizer(4)
    use_case = RecognizeCard(DictLoader({}), ListedDetector(detections_in_scrambled_order()), recognizer, LayoutRules())
    with pytest.raises(UnreadableImageError):
        await use_case(b"junk")
    assert recognizer.calls == []


async def test_a_recogniser_that_loses_words_is_an_error_not_a_shifted_transcript() -> None:
    class Lossy(LookupRecognizer):
        async def read(self, image: Page, boxes: Sequence[Box]) -> list[Reading]:
            return (await super().read(image, boxes))[:-1]

    use_case = RecognizeCard(
        DictLoader({b"c": CARD}), ListedDetector(detections_in_scrambled_order()), Lossy(8), LayoutRules()
    )
    with pytest.raises(RecognitionError, match="4 readings for 5 boxes"):
        await use_case(b"c")


async def test_transcript_round_trips_through_its_dict_form() -> None:
    transcript, _ = await recognize()
    assert Transcript.from_dict(transcript.to_dict()) == transcript
