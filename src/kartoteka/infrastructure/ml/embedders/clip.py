"""OpenCLIP models (a ConvNeXt image tower and a text tower): search by image, sketch, or text.

A checkpoint is named as on the hub (``hf-hub:laion/CLIP-convnext_base_w-...``,
a directory with ``open_clip_config.json`` and weights) or as an open_clip
architecture name plus a local weights file. Nothing is downloaded: a hub id
is read from the local hub cache, and a missing model is a clear error rather
than open_clip's fallback of silently running random weights when a
directory holds a config but no checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.infrastructure.ml.embedders.base import IncompatibleWeightsError, TorchEmbedder, text_list
from kartoteka.infrastructure.ml.embedders.preprocessing import Preprocessing, triple
from kartoteka.infrastructure.ml.model_files import resolve_model_path
from kartoteka.infrastructure.ml.runtime import Device

log = logging.getLogger(__name__)

HF_HUB = "hf-hub:"
LOCAL_DIR = "local-dir:"
CONFIG_FILE = "open_clip_config.json"
# The names hub repositories publish OpenCLIP weights under, most preferred first.
CHECKPOINT_NAMES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
)
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
_ROLE = "OpenCLIP embedder"


@dataclass(frozen=True, slots=True)
class ClipSource:
    """Where an OpenCLIP model comes from: an architecture (name or local config) and its weights."""

    architecture: str  # an open_clip built-in name, or "local-dir:<path>"
    checkpoint: Path
    config: Path | None
    embed_dim: int

    @property
    def files(self) -> list[Path]:
        return [p for p in (self.config, self.checkpoint) if p is not None]


def locate(model_name: str, pretrained: str | None = None) -> ClipSource:
    """Resolve ``model_name``/``pretrained`` to local files, or ModelUnavailableError saying what is missing."""
    if model_name.startswith(HF_HUB):
        return _from_directory(resolve_model_path(model_name.removeprefix(HF_HUB), role=_ROLE))
    if model_name.startswith(LOCAL_DIR):
        return _from_directory(Path(model_name.removeprefix(LOCAL_DIR)).expanduser())
    if pretrained is None:
        # A directory, or an owner/name hub id, carrying its own config.
        return _from_directory(resolve_model_path(model_name, role=_ROLE))
    import open_clip

    config = open_clip.get_model_config(model_name)
    if config is None:
        raise ModelUnavailableError(
            f"{model_name!r} is not an open_clip architecture; use 'hf-hub:owner/name' or a directory with "
            f"{CONFIG_FILE} for other models"
        )
    path = resolve_model_path(pretrained, role=_ROLE)
    checkpoint = path if path.is_file() else _checkpoint_in(path)
    return ClipSource(architecture=model_name, checkpoint=checkpoint, config=None, embed_dim=int(config["embed_dim"]))


def _from_directory(directory: Path) -> ClipSource:
    if not directory.is_dir():
        raise ModelUnavailableError(f"OpenCLIP model directory {str(directory)!r} does not exist")
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise ModelUnavailableError(f"OpenCLIP model directory {str(directory)!r} has no {CONFIG_FILE}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        embed_dim = int(config["model_cfg"]["embed_dim"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(f"{str(config_path)!r} is not an OpenCLIP config with model_cfg: {exc}") from None
    return ClipSource(
        architecture=f"{LOCAL_DIR}{directory}",
        checkpoint=_checkpoint_in(directory),
        config=config_path,
        embed_dim=embed_dim,
    )


def _checkpoint_in(directory: Path) -> Path:
    for name in CHECKPOINT_NAMES:
        if (directory / name).is_file():
            return directory / name
    found = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES)
    if len(found) == 1:
        return found[0]
    listed = ", ".join(p.name for p in found) or "none"
    raise ModelUnavailableError(
        f"OpenCLIP model directory {str(directory)!r} has no weights named {CHECKPOINT_NAMES[0]} or "
        f"{CHECKPOINT_NAMES[2]} (and not exactly one other checkpoint; found: {listed})"
    )


class OpenClipEmbedder(TorchEmbedder):
    """Image and text vectors of an OpenCLIP model in one space.

    ``embed`` takes [B,3,S,S] (or [B,S,S,3]) float32 batches preprocessed with
    the model's own size and mean/std (``preprocessing``); ``embed_text``
    takes strings and tokenises them with the model's tokenizer.
    """

    def __init__(self, model_name: str, pretrained: str | None = None, *, device: Device | str | None = None) -> None:
        import open_clip

        super().__init__(device)
        self.source = locate(model_name, pretrained)
        with _without_random_weights_warning():
            model = open_clip.create_model(self.source.architecture, load_weights=False, device="cpu")
        try:
            open_clip.load_checkpoint(model, str(self.source.checkpoint), strict=True, weights_only=True)
        except RuntimeError as exc:
            summary = " ".join(str(exc).split())[:600]
            raise IncompatibleWeightsError(
                f"{str(self.source.checkpoint)!r} does not fit {self.source.architecture}: {summary}"
            ) from None
        self._model = self._place(model)
        self._tokenizer = open_clip.get_tokenizer(self.source.architecture)
        self.dimension = self.source.embed_dim
        self.preprocessing = _preprocessing_of(open_clip.get_model_preprocess_cfg(model))
        log.info("OpenCLIP %s loaded from %s on %s", model_name, self.source.checkpoint, self.device.name)

    @classmethod
    def weight_files(cls, model_name: str, pretrained: str | None = None, **_: object) -> list[Path]:
        return locate(model_name, pretrained).files

    def embed_text(self, texts: str | Sequence[str]) -> NDArray[np.float32]:
        """L2-normalised [N, dimension] vectors for N texts, in the image vectors' space."""
        import torch

        tokens = self._tokenizer(text_list(texts)).to(self.device.name)
        with torch.inference_mode(), self._autocast():
            features = self._model.encode_text(tokens)
        return self._normalised(features)

    def _forward(self, batch: Any) -> Any:
        return self._model.encode_image(batch)


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "initialized randomly" not in record.getMessage()


@contextlib.contextmanager
def _without_random_weights_warning() -> Iterator[None]:
    """open_clip warns on the root logger that the model is random; the checkpoint is loaded right after."""
    root = logging.getLogger()
    quiet = _DropRandomInitWarning()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def _preprocessing_of(config: dict[str, Any]) -> Preprocessing:
    size = config.get("size", 224)
    if isinstance(size, list | tuple):
        if len(set(size)) != 1:
            raise IncompatibleWeightsError(f"non-square OpenCLIP input size {size} is not supported")
        size = size[0]
    if config.get("resize_mode", "shortest") != "shortest" or config.get("interpolation", "bicubic") != "bicubic":
        log.warning(
            "OpenCLIP model asks for %s/%s resizing; Kartoteka resizes the shorter side (bicubic) and center-crops",
            config.get("resize_mode"),
            config.get("interpolation"),
        )
    return Preprocessing(size=int(size), mean=triple(config["mean"]), std=triple(config["std"]))
