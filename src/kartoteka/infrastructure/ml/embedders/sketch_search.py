"""Sketch-Search's released model: a timm backbone and a three-layer MLP head, shared by photos and sketches.

Loads the published ``.pth`` state dicts as they are (``backbone.model.*``
for the timm network, ``projection_head.{0,2,4}`` for the head, possibly
behind torch.compile's ``_orig_mod.`` prefix). The backbone is built with
``pretrained=False`` (the checkpoint holds all of it, and nothing is
downloaded), the model runs in eval mode under inference mode on the
configured device, and the head's sizes are read from the checkpoint rather
than trusted from the configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from kartoteka.infrastructure.ml.embedders.base import IncompatibleWeightsError, TorchEmbedder
from kartoteka.infrastructure.ml.embedders.preprocessing import HALF, IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from kartoteka.infrastructure.ml.model_files import pick_file, resolve_model_path
from kartoteka.infrastructure.ml.runtime import Device

log = logging.getLogger(__name__)

_HEAD = "projection_head"
_HEAD_LAYERS = (0, 2, 4)  # Linear, ReLU, Linear, ReLU, Linear
_WRAPPER_PREFIXES = ("_orig_mod.", "module.")


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The state dict of a Sketch-Search checkpoint with training wrappers' prefixes removed."""
    import torch

    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(loaded, Mapping) and isinstance(loaded.get("state_dict"), Mapping):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping):
        raise IncompatibleWeightsError(f"{str(path)!r} is not a state dict")
    state: dict[str, Any] = {}
    for key, value in loaded.items():
        name = str(key)
        for prefix in _WRAPPER_PREFIXES:
            name = name.removeprefix(prefix)
        state[name] = value
    return state


def head_sizes(state: Mapping[str, Any]) -> tuple[int, int, int, tuple[bool, bool, bool]]:
    """(backbone features, hidden size, embedding size, which layers have a bias) from the checkpoint."""
    weights = []
    for layer in _HEAD_LAYERS:
        weight = state.get(f"{_HEAD}.{layer}.weight")
        if weight is None or len(weight.shape) != 2:
            raise IncompatibleWeightsError(
                f"not a Sketch-Search checkpoint: no 2-D {_HEAD}.{layer}.weight (keys start {sorted(state)[:3]})"
            )
        weights.append(tuple(int(d) for d in weight.shape))
    (hidden, features), (hidden2, hidden_in), (embedding, hidden_last) = weights
    if not hidden == hidden2 == hidden_in == hidden_last:
        raise IncompatibleWeightsError(f"Sketch-Search head layers do not chain: shapes {weights}")
    biases = (
        f"{_HEAD}.0.bias" in state,
        f"{_HEAD}.2.bias" in state,
        f"{_HEAD}.4.bias" in state,
    )
    return features, hidden, embedding, biases


class SketchSearchEmbedder(TorchEmbedder):
    """Sketch-Search's photo/sketch embedder, loaded from its released state dict.

    ``embed`` takes photos and ``embed_sketch`` sketches, both as
    [B,3,H,W] (or [B,H,W,3]) float32 batches already preprocessed as
    ``preprocessing`` describes: ImageNet statistics for photos, greyscale and
    0.5/0.5 for sketches, which is how the model was trained. Photos and
    sketches share every weight, so the two methods run the same network; the
    difference is in the input.
    """

    version: ClassVar[str] = "1"

    def __init__(
        self,
        weights_path: str,
        timm_backbone: str = "convnext_tiny.fb_in22k",
        embedding_size: int | None = None,
        hidden_layer_size: int | None = None,
        image_size: int = 224,
        *,
        device: Device | str | None = None,
    ) -> None:
        import timm
        from torch import nn

        super().__init__(device)
        self.weights = self._resolve(weights_path)
        state = read_checkpoint(self.weights)
        features, hidden, embedding, biases = head_sizes(state)
        for name, configured, found in (
            ("embedding_size", embedding_size, embedding),
            ("hidden_layer_size", hidden_layer_size, hidden),
        ):
            if configured is not None and configured != found:
                raise IncompatibleWeightsError(f"{name} is configured as {configured} but the checkpoint has {found}")
        backbone = timm.create_model(timm_backbone, pretrained=False, num_classes=0, global_pool="avg")
        if int(backbone.num_features) != features:
            raise IncompatibleWeightsError(
                f"the checkpoint's head takes {features} features but {timm_backbone} gives "
                f"{backbone.num_features}: is timm_backbone right?"
            )
        # Module names follow the checkpoint: backbone.model.* and projection_head.{0,2,4}.
        network = nn.Module()
        network.backbone = nn.Module()
        network.backbone.model = backbone
        network.projection_head = nn.Sequential(
            nn.Linear(features, hidden, bias=biases[0]),
            nn.ReLU(),
            nn.Linear(hidden, hidden, bias=biases[1]),
            nn.ReLU(),
            nn.Linear(hidden, embedding, bias=biases[2]),
        )
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise IncompatibleWeightsError(
                f"{str(self.weights)!r} does not fit {timm_backbone} + head: {_first_line(exc)}"
            ) from None
        self._model = self._place(network)
        self.dimension = embedding
        self.preprocessing = Preprocessing(
            size=image_size,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            sketch_mean=HALF,
            sketch_std=HALF,
            sketch_grayscale=True,
        )
        log.info("Sketch-Search embedder %s (%d-d) loaded from %s", timm_backbone, embedding, self.weights)

    def embed_sketch(self, images: NDArray[np.float32]) -> NDArray[np.float32]:
        """L2-normalised vectors of sketches preprocessed with the sketch statistics."""
        return self._run_images(images)

    @classmethod
    def weight_files(cls, weights_path: str, *_: object, **__: object) -> list[Path]:
        return [cls._resolve(weights_path)]

    @staticmethod
    def _resolve(weights_path: str) -> Path:
        path = resolve_model_path(weights_path, role="Sketch-Search embedder")
        return pick_file(path, "model.pth", (".pth", ".pt"), role="Sketch-Search embedder")

    def _forward(self, batch: Any) -> Any:
        return self._model.projection_head(self._model.backbone.model(batch))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.split())[:600]
