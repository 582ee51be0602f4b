"""YoloWordDetector: word boxes from an ultralytics YOLO model (.pt or exported .onnx).

The published detector was trained on cards resized to 1280×900, so a card
is resized to the configured input size (1280×900 by default) before
detection; boxes found on the resized card are mapped back to the original
pixels before anyone sees them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.layout import Detection
from kartoteka.domain.recognition.transcript import ModelIdentity
from kartoteka.infrastructure.config.settings import DetectorSettings
from kartoteka.infrastructure.ml.model_files import pick_file, resolve_model_path, revision_of
from kartoteka.infrastructure.ml.runtime import Device, InferenceThread, restore_torch_threads, use_detector_threads

log = logging.getLogger(__name__)

_SUFFIXES = (".pt", ".onnx")


class YoloWordDetector:
    def __init__(self, settings: DetectorSettings, device: Device) -> None:
        self._settings = settings
        self._device = device
        self._path = pick_file(
            resolve_model_path(settings.model, role="detector"), settings.filename, _SUFFIXES, role="detector"
        )
        self._model = _load(self._path)
        self._is_onnx = self._path.suffix.lower() == ".onnx"
        self._thread = InferenceThread("detector")
        self._identity = ModelIdentity(
            role="detector",
            name=settings.model,
            revision=revision_of(self._path),
            backend="ultralytics-onnx" if self._is_onnx else "ultralytics",
        )
        log.info("detector %s loaded from %s on %s", settings.model, self._path, device.name)

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    async def detect(self, image: Image.Image) -> list[Detection]:
        return await self._thread.run(self.detect_sync, image)

    def detect_sync(self, image: Image.Image) -> list[Detection]:
        """Run the model on the (resized) card; boxes come back in the card's own pixels."""
        resized, sx, sy = self._resize(image)
        if not self._device.is_cuda:
            use_detector_threads()
        result = self._model.predict(
            resized,
            conf=self._settings.conf,
            iou=self._settings.iou,
            imgsz=self._settings.imgsz,
            max_det=self._settings.max_det,
            device=self._device.name,
            half=self._device.fp16 and not self._is_onnx,
            verbose=False,
        )[0]
        if not self._device.is_cuda:
            restore_torch_threads()
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return []
        xyxy = np.asarray(boxes.xyxy.cpu().numpy(), dtype=np.float64)
        conf = np.asarray(boxes.conf.cpu().numpy(), dtype=np.float64)
        return to_original_pixels(xyxy, conf, sx, sy)

    def _resize(self, image: Image.Image) -> tuple[Image.Image, float, float]:
        w, h = self._settings.input_width, self._settings.input_height
        if w is None and h is None:
            return image, 1.0, 1.0
        target_w = w if w is not None else round(image.width * (h or image.height) / image.height)
        target_h = h if h is not None else round(image.height * (w or image.width) / image.width)
        if (target_w, target_h) == image.size:
            return image, 1.0, 1.0
        resized = image.resize((target_w, target_h), Image.Resampling.BILINEAR)
        return resized, image.width / target_w, image.height / target_h

    def close(self) -> None:
        self._thread.close()


def to_original_pixels(
    xyxy: np.ndarray[Any, np.dtype[np.float64]],
    conf: np.ndarray[Any, np.dtype[np.float64]],
    sx: float,
    sy: float,
) -> list[Detection]:
    """Scale boxes from the resized card back to the original; drop non-finite rows."""
    detections = []
    for (x1, y1, x2, y2), c in zip(xyxy.tolist(), conf.tolist(), strict=True):
        if not all(np.isfinite([x1, y1, x2, y2, c])):
            continue
        detections.append(Detection(box=Box.from_corners(x1 * sx, y1 * sy, x2 * sx, y2 * sy), confidence=float(c)))
    return detections


def _load(path: Path) -> Any:
    from ultralytics import YOLO

    try:
        return YOLO(str(path), task="detect")
    except Exception as exc:  # ultralytics raises many kinds for a bad file
        raise ModelUnavailableError(f"detector model {str(path)!r} cannot be loaded: {exc}") from exc
