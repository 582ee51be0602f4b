"""One configuration of ``make bench`` (tests/bench/recognition.py), run in a process of its own.

A configuration reads every card of a ground-truth directory once after one warm-up card, and returns
its throughput, its peak RSS and how well it read: CER and WER from the project's own scoring
(:func:`kartoteka.domain.recognition.quality.score_card`, what ``kartoteka eval`` reports).

- ``reference``: the reference backend's loop: OpenCV decode (BGR, which is also what it cut the word
  crops from), YOLO on the full-size card, the project's line grouping, then one ``generate`` per word,
  batch 1, sequentially.
- ``kartoteka:<backend>:<precision>``: the production pipeline (``kartoteka recognize``'s container:
  PillowCardImageLoader, YoloWordDetector at 1280×900, TrOcrRecognizer in batches), one card at a time.
- ``overlap:<backend>:<precision>``: the same pipeline with two cards in flight, as a worker runs them
  (``broker.prefetch`` 2): the next card is decoded and detected while the current one is read.

Both sides generate with the recogniser's own generation config plus the configured overrides (none by
default), so they do the same decoding work per word.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kartoteka.domain.recognition.quality import QualitySummary, ReferenceCard, score_card
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.infrastructure.config.settings import Settings

if TYPE_CHECKING:
    from kartoteka.di import CardRecognition

CARDS_IN_FLIGHT = 2  # the worker's default broker.prefetch


@dataclass(frozen=True, slots=True)
class Cards:
    """The benchmark's cards: scans as bytes, with their ground truth."""

    scans: tuple[bytes, ...]
    truth: tuple[ReferenceCard, ...]

    @classmethod
    def load(cls, directory: Path) -> Cards:
        from kartoteka.infrastructure.ground_truth.directory import find_ground_truth

        pairs = find_ground_truth(directory)
        return cls(tuple(scan.read_bytes() for scan, _ in pairs), tuple(card for _, card in pairs))


@dataclass(frozen=True, slots=True)
class Measured:
    seconds: float
    transcripts: tuple[Transcript, ...]


def configured(settings: Settings, backend: str, precision: str, device: str, onnx_dir: Path | None) -> Settings:
    """``settings`` with the configuration's backend, weights precision and device."""
    recognizer = settings.recognition.recognizer
    update: dict[str, Any] = {"backend": backend, "quantize": "int8" if precision == "int8" else "none"}
    if backend == "onnx":
        if onnx_dir is None:
            raise ValueError("an ONNX configuration needs the exported recogniser")
        update["model"] = str(onnx_dir)
    recognition = settings.recognition.model_copy(update={"recognizer": recognizer.model_copy(update=update)})
    # int8 is a property of the ONNX weights; the device runs it in fp32.
    inference = settings.inference.model_copy(
        update={"device": device, "precision": "fp32" if precision == "int8" else precision}
    )
    return settings.model_copy(update={"recognition": recognition, "inference": inference})


def measure(config: str, settings: Settings, cards: Cards, device: str, onnx_dir: Path | None) -> Measured:
    kind, backend, precision = config.split(":")
    if kind == "reference":
        read_one = reference_loop(settings, device)
        read_one(cards.scans[0])  # warm-up: lazy imports, allocator, first-call graph setup
        began = time.perf_counter()
        transcripts = tuple(read_one(scan) for scan in cards.scans)
        return Measured(time.perf_counter() - began, transcripts)
    return asyncio.run(_kartoteka(configured(settings, backend, precision, device, onnx_dir), cards, kind))


async def _kartoteka(settings: Settings, cards: Cards, kind: str) -> Measured:
    from kartoteka.di import CardRecognition, recognition_container

    container = recognition_container(settings)
    try:
        recognize = await container.get(CardRecognition)
        await recognize(cards.scans[0])  # warm-up
        began = time.perf_counter()
        if kind == "overlap":
            transcripts = await _in_flight(recognize, cards.scans, CARDS_IN_FLIGHT)
        else:
            transcripts = tuple([await recognize(scan) for scan in cards.scans])
        return Measured(time.perf_counter() - began, transcripts)
    finally:
        await container.close()


async def _in_flight(recognize: CardRecognition, scans: Sequence[bytes], limit: int) -> tuple[Transcript, ...]:
    """Every card as its own job, at most ``limit`` at once: what the worker's receiver does."""
    slots = asyncio.Semaphore(limit)

    async def job(scan: bytes) -> Transcript:
        async with slots:
            return await recognize(scan)

    return tuple(await asyncio.gather(*(job(scan) for scan in scans)))


def reference_loop(settings: Settings, device: str) -> Callable[[bytes], Transcript]:
    """The reference backend's loop over the same models and generation settings."""
    import cv2
    import numpy as np
    import torch
    from transformers import TrOCRProcessor, VisionEncoderDecoderModel
    from ultralytics import YOLO

    from kartoteka.domain.recognition.geometry import Box
    from kartoteka.domain.recognition.layout import Detection, LayoutRules, arrange_words
    from kartoteka.domain.recognition.transcript import TranscriptLine, TranscriptWord
    from kartoteka.infrastructure.ml.model_files import pick_file, resolve_model_path
    from kartoteka.infrastructure.ml.runtime import available_cpus

    det_settings = settings.recognition.detector
    rec_settings = settings.recognition.recognizer
    # The same threads per model as Kartoteka's (configure_torch_threads), so that the comparison is of the
    # pipelines: the recogniser on torch_threads, the detector on its share.
    threads = settings.inference.torch_threads or available_cpus()
    detector_threads = settings.inference.detector_threads or max(1, threads // 2)
    weights = pick_file(
        resolve_model_path(det_settings.model, role="detector"), det_settings.filename, (".pt",), role="detector"
    )
    detector = YOLO(str(weights), task="detect")
    recognizer_dir = resolve_model_path(rec_settings.model, role="recognizer")
    processor = TrOCRProcessor.from_pretrained(str(recognizer_dir))
    model = VisionEncoderDecoderModel.from_pretrained(str(recognizer_dir)).to(device).eval()
    generation = rec_settings.generation.overrides()
    layout = settings.recognition.layout
    rules = LayoutRules(layout.containment_threshold, layout.line_overlap_threshold, layout.merge_overlapping)

    def read(data: bytes) -> Transcript:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("OpenCV cannot decode this card")
        torch.set_num_threads(detector_threads)
        found = detector.predict(
            image,
            conf=det_settings.conf,
            iou=det_settings.iou,
            imgsz=det_settings.imgsz,
            max_det=det_settings.max_det,
            device=device,
            verbose=False,
        )[0].boxes
        torch.set_num_threads(threads)  # (ultralytics also sets cpu_count - 1 threads on its first CPU predict)
        h, w = image.shape[:2]
        detections = [
            Detection(Box.from_corners(*xyxy), float(c))
            for xyxy, c in zip(found.xyxy.cpu().tolist(), found.conf.cpu().tolist(), strict=True)
        ]
        lines = []
        for line in arrange_words(detections, w, h, rules):
            words = []
            for det in line:
                x1, y1, x2, y2 = (int(v) for v in det.box.as_tuple())
                crop = image[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)]
                # The channel axis is named: the processor guesses it wrongly for crops a few pixels wide.
                pixel_values = processor(crop, return_tensors="pt", input_data_format="channels_last").pixel_values
                with torch.inference_mode():
                    ids = model.generate(pixel_values.to(device), **generation)
                text = processor.batch_decode(ids, skip_special_tokens=True)[0]
                words.append(TranscriptWord(text, det.box, det.confidence, 0.0))
            lines.append(TranscriptLine(tuple(words)))
        return Transcript(width=w, height=h, lines=tuple(lines))

    return read


def quality(cards: Cards, transcripts: Sequence[Transcript]) -> QualitySummary:
    return QualitySummary.of([score_card(truth, t) for truth, t in zip(cards.truth, transcripts, strict=True)])
