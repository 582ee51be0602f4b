"""What every built-in embedder shares: input layout, device, precision, and normalised output.

A model is put in eval mode on the resolved device once (in training mode
BatchNorm would use batch statistics, so a vector would depend on its
batch-mates), and every call runs under ``inference_mode`` (no autograd
state is kept). torch is imported lazily so that reading an embedder
class (for its version) costs no torch import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.infrastructure.config.settings import InferenceSettings
from kartoteka.infrastructure.ml.embedders.preprocessing import Preprocessing
from kartoteka.infrastructure.ml.runtime import Device, resolve_device


class IncompatibleWeightsError(ModelUnavailableError):
    """A checkpoint exists but does not fit the architecture it is loaded into."""


def as_device(device: Device | str | None) -> Device:
    """A Device from the registry, or one resolved from a name ("auto", "cpu", "cuda:1") in an entry's kwargs."""
    if isinstance(device, Device):
        return device
    return resolve_device(InferenceSettings(device=device or "auto"))


def as_nchw_batch(images: Any) -> NDArray[np.float32]:
    """A float32 [B,3,H,W] batch from [B,3,H,W], [B,H,W,3], [3,H,W] or [H,W,3] input.

    Embedders written for Sketch-Search take channel-last arrays
    (docs/contracts.md); Kartoteka's adapter sends channel-first ones; both are
    accepted. A dimension of 3 in the channel-first position wins, so
    [B,3,H,3] is read as channel-first. Single-channel input (a greyscale
    sketch) is repeated to RGB.
    """
    batch = np.asarray(images, dtype=np.float32)
    if batch.ndim == 3:
        batch = batch[np.newaxis]
    if batch.ndim != 4:
        raise ValueError(f"expected images as [B,3,H,W] or [B,H,W,3] (or one image without B), got {batch.shape}")
    if batch.shape[1] not in (1, 3):
        if batch.shape[3] not in (1, 3):
            raise ValueError(f"no channel axis of size 3 (or 1) in image batch of shape {batch.shape}")
        batch = batch.transpose(0, 3, 1, 2)
    if batch.shape[1] == 1:
        batch = np.repeat(batch, 3, axis=1)
    return np.ascontiguousarray(batch)


class TorchEmbedder:
    """Base of the built-in embedders: subclasses build ``self._model`` and define ``_forward``.

    ``embed`` takes batches that are already preprocessed as ``preprocessing``
    describes (decoded, resized, center-cropped, normalised); it does no image
    handling of its own, so the gallery and the query cannot drift apart.
    """

    version: ClassVar[str] = "1"
    preprocessing: Preprocessing
    dimension: int

    def __init__(self, device: Device | str | None) -> None:
        self._device = as_device(device)
        self._model: Any = None

    @property
    def device(self) -> Device:
        return self._device

    def embed(self, images: NDArray[np.float32]) -> NDArray[np.float32]:
        """L2-normalised float32 [B, dimension] for a preprocessed image batch."""
        return self._run_images(images)

    def _place(self, module: Any) -> Any:
        """Put a freshly loaded module in eval mode on the device, frozen."""
        module.eval()
        for parameter in module.parameters():
            parameter.requires_grad_(False)
        return module.to(self._device.name)

    def _run_images(self, images: Any) -> NDArray[np.float32]:
        import torch

        batch = torch.from_numpy(as_nchw_batch(images)).to(self._device.name)
        with torch.inference_mode(), self._autocast():
            features = self._forward(batch)
        return self._normalised(features)

    def _forward(self, batch: Any) -> Any:
        raise NotImplementedError

    def _autocast(self) -> Any:
        """Mixed precision when the inference settings ask for it; the weights themselves stay fp32."""
        import contextlib

        import torch

        if self._device.precision == "fp32":
            return contextlib.nullcontext()
        device_type = "cuda" if self._device.is_cuda else "cpu"
        return torch.autocast(device_type=device_type, dtype=self._device.torch_dtype())

    @staticmethod
    def _normalised(features: Any) -> NDArray[np.float32]:
        import torch

        vectors = torch.nn.functional.normalize(features.float(), dim=-1)
        result: NDArray[np.float32] = vectors.cpu().numpy().astype(np.float32, copy=False)
        return result


def text_list(texts: str | Sequence[str]) -> list[str]:
    return [texts] if isinstance(texts, str) else list(texts)
