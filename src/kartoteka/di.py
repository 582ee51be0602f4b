"""Composition root: the only module that knows both the ports and their adapters.

One container per process kind. The recognition pipeline's models load when
the container is built, so a missing model stops a worker (or the CLI) at
start-up with a message naming it, instead of failing the first job.
"""

from __future__ import annotations

from collections.abc import Iterator

from dishka import AsyncContainer, Provider, Scope, from_context, make_async_container, provide
from PIL import Image

from kartoteka.application.recognition.recognize_card import RecognizeCard
from kartoteka.domain.recognition.layout import LayoutRules
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.ml.images import PillowCardImageLoader
from kartoteka.infrastructure.ml.runtime import Device, resolve_device
from kartoteka.infrastructure.ml.trocr_recognizer import TrOcrRecognizer
from kartoteka.infrastructure.ml.yolo_detector import YoloWordDetector

CardRecognition = RecognizeCard[Image.Image]


class RecognitionPipelineProvider(Provider):
    """Models and the RecognizeCard use case, for the worker and the CLI."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    def device(self, settings: Settings) -> Device:
        return resolve_device(settings.inference)

    @provide
    def layout_rules(self, settings: Settings) -> LayoutRules:
        s = settings.recognition.layout
        return LayoutRules(
            containment_threshold=s.containment_threshold,
            line_overlap_threshold=s.line_overlap_threshold,
            merge_overlapping=s.merge_overlapping,
        )

    @provide
    def loader(self, settings: Settings) -> PillowCardImageLoader:
        return PillowCardImageLoader(max_pixels=settings.recognition.max_pixels)

    @provide
    def detector(self, settings: Settings, device: Device) -> Iterator[YoloWordDetector]:
        detector = YoloWordDetector(settings.recognition.detector, device)
        yield detector
        detector.close()

    @provide
    def recognizer(self, settings: Settings, device: Device) -> Iterator[TrOcrRecognizer]:
        recognizer = TrOcrRecognizer(settings.recognition.recognizer, device)
        yield recognizer
        recognizer.close()

    @provide
    def recognize_card(
        self,
        loader: PillowCardImageLoader,
        detector: YoloWordDetector,
        recognizer: TrOcrRecognizer,
        rules: LayoutRules,
    ) -> CardRecognition:
        return RecognizeCard(loader, detector, recognizer, rules)


def recognition_container(settings: Settings) -> AsyncContainer:
    return make_async_container(RecognitionPipelineProvider(), context={Settings: settings})
