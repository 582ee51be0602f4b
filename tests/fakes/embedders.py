"""Embedders without a model: deterministic numpy functions of the pixels, for testing the plumbing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from kartoteka.infrastructure.ml.embedders.preprocessing import Preprocessing


class PixelStatsEmbedder:
    """Per-channel means and standard deviations plus a quadrant layout: 6 + 12 numbers per image."""

    dimension = 18
    version: ClassVar[str] = "1"
    preprocessing = Preprocessing(size=16, sketch_mean=(0.5, 0.5, 0.5), sketch_std=(0.5, 0.5, 0.5))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("fail"):
            raise ValueError("asked to fail")
        if kwargs.get("weights") == "missing":
            raise FileNotFoundError("no such file: weights.bin")
        self.args = args
        self.kwargs = kwargs
        self.calls: list[tuple[str, tuple[int, ...], str]] = []

    def _features(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        x = np.asarray(images, dtype=np.float64)
        h, w = x.shape[2] // 2, x.shape[3] // 2
        quadrants = [x[:, :, :h, :w], x[:, :, :h, w:], x[:, :, h:, :w], x[:, :, h:, w:]]
        parts = [x.mean(axis=(2, 3)), x.std(axis=(2, 3))] + [q.mean(axis=(2, 3)) for q in quadrants]
        return np.concatenate(parts, axis=1) + 0.01

    def embed(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        self.calls.append(("photo", tuple(images.shape), threading.current_thread().name))
        return self._features(images)

    def embed_sketch(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        self.calls.append(("sketch", tuple(images.shape), threading.current_thread().name))
        return self._features(images)


class OtherVersionEmbedder(PixelStatsEmbedder):
    version: ClassVar[str] = "2"


class WeightsHookEmbedder(PixelStatsEmbedder):
    """Says which file it reads, as a packaged-weights embedder does, without naming it in its arguments."""

    @classmethod
    def weight_files(cls, *args: Any, **kwargs: Any) -> list[Path]:
        return [Path(kwargs["hidden_dir"]) / "weights.bin"]


class TextEmbedder(PixelStatsEmbedder):
    def embed_text(self, texts: list[str]) -> NDArray[np.float64]:
        return np.array([[float(len(t)), 1.0] + [0.0] * 16 for t in texts])


class NoDimensionEmbedder:
    """Sketch-Search's contract only: embed([B,H,W,3]) -> [B,D], nothing else declared."""

    def embed(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        assert images.ndim == 4
        assert images.shape[3] == 3
        means: NDArray[np.float64] = np.asarray(images, dtype=np.float64).mean(axis=(1, 2))
        return means + 1.0


class NotAnEmbedder:
    pass


def not_a_class() -> None:
    pass
