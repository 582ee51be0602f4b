"""RecognizeCard: from the bytes of one scan to a structured transcript.

This is the whole pipeline as the linguist sees it: detect words, arrange
them into lines in reading order, read them batch by batch. Between batches
it reports progress and honours cancellation, which is what lets a worker
stop within about a second instead of after the whole card.

Several cards may be in flight at once (a worker runs ``broker.prefetch``
jobs): decoding and detection form one lane and reading another
(:mod:`~kartoteka.application.recognition.lanes`), so the next card is
prepared while the current one is read, each model still sees one card at a
time, and a card reads exactly as it would alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Generic

from kartoteka.application.recognition.errors import RecognitionCancelledError, RecognitionError
from kartoteka.application.recognition.lanes import StageLanes
from kartoteka.application.recognition.ports.metrics import (
    NO_METRICS,
    STAGE_DECODE,
    STAGE_DETECT,
    STAGE_RECOGNISE,
    JobMetrics,
)
from kartoteka.application.recognition.ports.pipeline import (
    CardImageLoader,
    ImageT,
    Reading,
    TextRecognizer,
    WordDetector,
)
from kartoteka.application.recognition.ports.progress import CancellationSignal, ProgressReporter
from kartoteka.domain.recognition.layout import Detection, LayoutRules, arrange_words
from kartoteka.domain.recognition.task import Progress
from kartoteka.domain.recognition.transcript import Transcript, TranscriptLine, TranscriptWord

STAGE_DECODING = "decoding"
STAGE_DETECTING = "detecting"
STAGE_READING = "reading"


class RecognizeCard(Generic[ImageT]):
    def __init__(
        self,
        loader: CardImageLoader[ImageT],
        detector: WordDetector[ImageT],
        recognizer: TextRecognizer[ImageT],
        rules: LayoutRules,
        metrics: JobMetrics = NO_METRICS,
        lanes: StageLanes | None = None,
    ) -> None:
        self._loader = loader
        self._detector = detector
        self._recognizer = recognizer
        self._rules = rules
        self._metrics = metrics
        self._lanes = lanes or StageLanes()

    async def __call__(
        self,
        data: bytes,
        *,
        progress: ProgressReporter | None = None,
        cancelled: CancellationSignal | None = None,
    ) -> Transcript:
        async def report(stage: str, done: int, total: int) -> None:
            if progress is not None:
                await progress(Progress(stage, done, total))

        async def stop_if_cancelled() -> None:
            if cancelled is not None and await cancelled():
                raise RecognitionCancelledError("recognition was cancelled")

        # Progress is reported inside the lanes: a card waiting for its turn shows the stage it last
        # worked in, never one it has not begun.
        async with self._lanes.prepare.held(stop_if_cancelled):
            await report(STAGE_DECODING, 0, 1)
            began = time.perf_counter()
            image = await self._loader.load(data)
            self._metrics.stage_took(STAGE_DECODE, time.perf_counter() - began)
            await stop_if_cancelled()
            await report(STAGE_DETECTING, 0, 1)
            began = time.perf_counter()
            detections = await self._detector.detect(image)
            lines = arrange_words(detections, image.width, image.height, self._rules)
            self._metrics.stage_took(STAGE_DETECT, time.perf_counter() - began)
        words = [det for line in lines for det in line]

        readings: list[Reading] = []
        # The whole card in one turn: its batches are never interleaved with another card's. A card with no
        # words has nothing to read and does not queue behind the card being read.
        turn = self._lanes.read.held(stop_if_cancelled) if words else contextlib.nullcontext()
        async with turn:
            await report(STAGE_READING, 0, len(words))
            step = max(1, self._recognizer.batch_size)
            reading_s = 0.0  # the models' time only, not the progress reports and cancellation checks
            for start in range(0, len(words), step):
                await stop_if_cancelled()
                batch = words[start : start + step]
                began = time.perf_counter()
                got = await self._recognizer.read(image, [d.box for d in batch])
                reading_s += time.perf_counter() - began
                if len(got) != len(batch):
                    raise RecognitionError(f"recogniser returned {len(got)} readings for {len(batch)} boxes")
                readings.extend(got)
                await report(STAGE_READING, len(readings), len(words))
        self._metrics.stage_took(STAGE_RECOGNISE, reading_s)

        return Transcript(
            width=image.width,
            height=image.height,
            lines=_assemble(lines, readings),
            models=(self._detector.identity, self._recognizer.identity),
        )


def _assemble(lines: Sequence[Sequence[Detection]], readings: Sequence[Reading]) -> tuple[TranscriptLine, ...]:
    it = iter(readings)
    result: list[TranscriptLine] = []
    for line in lines:
        words = []
        for det in line:
            reading = next(it)
            words.append(
                TranscriptWord(
                    text=reading.text,
                    box=det.box,
                    detection_confidence=det.confidence,
                    recognition_confidence=reading.confidence,
                )
            )
        result.append(TranscriptLine(words=tuple(words)))
    return tuple(result)
