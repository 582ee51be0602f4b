"""The whole pipeline (decode → detect → arrange → read) with tiny models on synthetic cards."""

from __future__ import annotations

import asyncio
import io
import random
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.di import CardRecognition, recognition_container
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.layout import Detection, LayoutRules, arrange_words
from kartoteka.infrastructure.config.settings import Settings
from kartoteka_dev.synthetic_cards import SyntheticCard, render_card


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def cards() -> list[SyntheticCard]:
    return [render_card(seed) for seed in range(6)]


@pytest.mark.parametrize("seed", range(6))
def test_grouping_reproduces_the_lines_of_synthetic_cards(cards: list[SyntheticCard], seed: int) -> None:
    card = cards[seed]
    detections = [Detection(Box(*w.box), 0.9) for w in card.words]
    random.Random(seed).shuffle(detections)  # a detector reports in confidence order, not reading order
    lines = arrange_words(detections, card.image.width, card.image.height, LayoutRules())
    expected = [[Box(*w.box) for w in line] for line in card.lines]
    assert [[d.box for d in line] for line in lines] == expected


@pytest.fixture(scope="module")
def settings(tiny_detector: Path, tiny_recognizer: Path) -> Settings:
    return Settings.model_validate(
        {
            "recognition": {
                "detector": {"model": str(tiny_detector), "conf": 0.0, "imgsz": 320, "max_det": 40},
                "recognizer": {"model": str(tiny_recognizer), "batch_size": 8},
            },
            "inference": {"device": "cpu"},
        }
    )


@pytest.fixture
async def recognize(settings: Settings) -> AsyncIterator[CardRecognition]:
    container = recognition_container(settings)
    try:
        yield await container.get(CardRecognition)
    finally:
        await container.close()


async def test_a_synthetic_card_gives_a_well_formed_transcript(
    recognize: CardRecognition, cards: list[SyntheticCard]
) -> None:
    card = cards[0]
    transcript = await recognize(png(card.image))
    assert (transcript.width, transcript.height) == card.image.size
    assert transcript.lines, "the untrained detector at conf 0 always proposes boxes"
    for line in transcript.lines:
        xs = [w.box.x1 for w in line.words]
        assert xs == sorted(xs)
        for w in line.words:
            assert 0 <= w.box.x1 < w.box.x2 <= card.image.width
            assert 0 <= w.box.y1 < w.box.y2 <= card.image.height
            assert 0.0 <= w.detection_confidence <= 1.0
            assert 0.0 <= w.recognition_confidence <= 1.0
    assert transcript.text == "\n".join(line.text for line in transcript.lines if line.text)
    assert [m.role for m in transcript.models] == ["detector", "recognizer"]


@pytest.mark.parametrize(
    "data",
    [
        png(Image.new("RGB", (1, 1), (255, 255, 255))),
        png(Image.new("RGB", (3000, 40), (255, 255, 255))),
    ],
    ids=["1x1", "long-strip"],
)
async def test_tiny_and_odd_shaped_images_do_not_crash(recognize: CardRecognition, data: bytes) -> None:
    transcript = await recognize(data)
    assert transcript.width >= 1


async def test_non_image_is_a_clear_error(recognize: CardRecognition) -> None:
    with pytest.raises(UnreadableImageError):
        await recognize(b"\x89PNG\r\n\x1a\n but then nothing")


async def test_inference_runs_off_the_event_loop(
    recognize: CardRecognition, cards: list[SyntheticCard], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The detector blocks until the event loop sets a flag: on the loop thread it would deadlock."""
    from kartoteka.infrastructure.ml.yolo_detector import YoloWordDetector

    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    released = threading.Event()
    seen_threads: list[str] = []
    original = YoloWordDetector.detect_sync

    def blocking_detect(self: YoloWordDetector, image: Image.Image) -> list[Detection]:
        seen_threads.append(threading.current_thread().name)
        loop.call_soon_threadsafe(started.set)
        if not released.wait(timeout=30):
            raise AssertionError("the event loop never ran while the model was busy")
        return original(self, image)

    monkeypatch.setattr(YoloWordDetector, "detect_sync", blocking_detect)
    job = asyncio.create_task(recognize(png(cards[1].image)))
    await asyncio.wait_for(started.wait(), timeout=60)
    released.set()  # only possible because the loop is free while the detector runs
    transcript = await job
    assert transcript.width == cards[1].image.width
    assert seen_threads[0] != threading.main_thread().name
    assert seen_threads[0].startswith("inference-detector")
