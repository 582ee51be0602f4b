"""TrOcrRecognizer: reads word crops with TrOCR, in PyTorch or ONNX Runtime.

All crops of a card go through ``generate`` in batches, not one call per
word. Crops are cut from the RGB card, the channel order the model was
trained on. A confidence per word is the geometric mean of the chosen
tokens' probabilities, comparable across greedy and beam decoding.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from kartoteka.application.recognition.ports.pipeline import Reading
from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.text import normalize_text
from kartoteka.domain.recognition.transcript import ModelIdentity
from kartoteka.infrastructure.config.settings import RecognizerSettings
from kartoteka.infrastructure.ml.model_files import resolve_model_path, revision_of
from kartoteka.infrastructure.ml.quantize import quantized_copy
from kartoteka.infrastructure.ml.runtime import Device, InferenceThread, restore_torch_threads

log = logging.getLogger(__name__)


def crop_word(image: Image.Image, box: Box) -> Image.Image:
    """The word's pixels, widened to whole pixels so no ink is cut off."""
    x1, y1 = max(0, math.floor(box.x1)), max(0, math.floor(box.y1))
    x2, y2 = min(image.width, math.ceil(box.x2)), min(image.height, math.ceil(box.y2))
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    return image.crop((x1, y1, x2, y2)).convert("RGB")


class TrOcrRecognizer:
    def __init__(self, settings: RecognizerSettings, device: Device) -> None:
        self._settings = settings
        self._device = device
        self._path = resolve_model_path(settings.model, role="recognizer")
        if not self._path.is_dir():
            raise ModelUnavailableError(f"recognizer model {str(self._path)!r} must be a directory")
        self._processor = _load_processor(self._path)
        weights = quantized_copy(self._path) if settings.quantize == "int8" else self._path
        self._model = _load_onnx(weights, device) if settings.backend == "onnx" else _load_torch(weights, device)
        self._generation = settings.generation.overrides()
        self._pad_id = int(self._processor.tokenizer.pad_token_id)
        self._thread = InferenceThread("recognizer")
        self._identity = ModelIdentity(
            role="recognizer",
            name=settings.model,
            revision=revision_of(self._path),
            backend=f"transformers-{settings.backend}" + ("-int8" if settings.quantize == "int8" else ""),
        )
        log.info(
            "recognizer %s (%s) loaded from %s on %s",
            settings.model,
            settings.backend,
            self._path,
            device.name,
        )

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def batch_size(self) -> int:
        return self._settings.batch_size

    async def read(self, image: Image.Image, boxes: Sequence[Box]) -> list[Reading]:
        crops = [crop_word(image, box) for box in boxes]
        return await self._thread.run(self.read_crops, crops)

    def pixel_values(self, crops: Sequence[Image.Image]) -> Any:
        """The model input for RGB crops, on the model's device and precision."""
        # Crops of a few pixels make the processor guess the channel axis wrongly; tell it.
        values = self._processor(
            images=list(crops), return_tensors="pt", input_data_format="channels_last"
        ).pixel_values
        if self._settings.backend == "pytorch":
            values = values.to(self._device.name, dtype=self._device.torch_dtype())
        return values

    def read_crops(self, crops: Sequence[Image.Image], **generation: Any) -> list[Reading]:
        """One ``generate`` call for all ``crops``; ``generation`` overrides the configured settings."""
        if not crops:
            return []
        import torch

        if not self._device.is_cuda:
            # ultralytics lowers torch's thread count on every CPU predict, and the detector may be busy with
            # the next card meanwhile: the recogniser's thread keeps the configured count whatever it did.
            restore_torch_threads()
        kwargs = {**self._generation, **generation}
        with torch.inference_mode():
            out = self._model.generate(
                self.pixel_values(crops),
                output_scores=True,
                return_dict_in_generate=True,
                **kwargs,
            )
        sequences = out.sequences
        texts = self._processor.tokenizer.batch_decode(sequences, skip_special_tokens=True)
        confidences = self._confidences(out)
        return [Reading(text=normalize_text(t), confidence=c) for t, c in zip(texts, confidences, strict=True)]

    def generate_tokens(self, crops: Sequence[Image.Image], **generation: Any) -> list[list[int]]:
        """Raw token ids without padding, for comparing backends and batch sizes."""
        import torch

        kwargs = {**self._generation, **generation}
        with torch.inference_mode():
            sequences = self._model.generate(self.pixel_values(crops), **kwargs)
        return [[int(t) for t in row if int(t) != self._pad_id] for row in sequences.tolist()]

    def _confidences(self, out: Any) -> list[float]:
        import torch

        beam_indices = getattr(out, "beam_indices", None)
        scores = self._model.compute_transition_scores(
            out.sequences, out.scores, beam_indices, normalize_logits=True
        ).float()
        generated = out.sequences[:, -scores.shape[1] :]
        valid = (generated != self._pad_id) & torch.isfinite(scores)
        if beam_indices is not None:
            valid &= beam_indices[:, : scores.shape[1]] >= 0
        totals = torch.where(valid, scores, torch.zeros_like(scores)).sum(dim=1)
        counts = valid.sum(dim=1)
        return [
            math.exp(float(t) / int(n)) if int(n) > 0 else 0.0
            for t, n in zip(totals.tolist(), counts.tolist(), strict=True)
        ]

    def close(self) -> None:
        self._thread.close()


def _load_processor(path: Path) -> Any:
    from transformers import TrOCRProcessor

    try:
        return TrOCRProcessor.from_pretrained(str(path))
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"recognizer processor in {str(path)!r} cannot be loaded: {exc}") from exc


def _load_torch(path: Path, device: Device) -> Any:
    from transformers import VisionEncoderDecoderModel

    try:
        model = VisionEncoderDecoderModel.from_pretrained(str(path))
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"recognizer model in {str(path)!r} cannot be loaded: {exc}") from exc
    model = model.to(device.name, dtype=device.torch_dtype())
    return model.eval()


def _load_onnx(path: Path, device: Device) -> Any:
    from optimum.onnxruntime import ORTModelForVision2Seq

    # Exports with past key values run much faster; an export with only encoder + decoder
    # (as the published ONNX checkpoint is) loads only with use_cache off.
    has_past = (path / "decoder_with_past_model.onnx").is_file() or (path / "decoder_model_merged.onnx").is_file()
    provider = "CUDAExecutionProvider" if device.is_cuda else "CPUExecutionProvider"
    try:
        return ORTModelForVision2Seq.from_pretrained(str(path), use_cache=has_past, provider=provider)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelUnavailableError(f"recognizer ONNX model in {str(path)!r} cannot be loaded: {exc}") from exc
