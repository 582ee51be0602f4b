"""Embedder models built (or, for EfficientNet-Lite0, loaded with real weights) once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kartoteka.infrastructure.ml.runtime import Device

if TYPE_CHECKING:
    from kartoteka.infrastructure.ml.embedders.efficientnet import EfficientNetLite0Embedder
    from kartoteka_dev.tiny_embedders import Sketch

CPU = Device("cpu")


@pytest.fixture(scope="package", autouse=True)
def _two_torch_threads_at_most() -> Iterator[None]:
    """Other test runs share this machine's cores; the real-weights tests stay within two threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def embedder_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedders")


@pytest.fixture(scope="session")
def tiny_open_clip(embedder_models_dir: Path) -> Path:
    """A random ConvNeXt CLIP laid out as a hub repository (open_clip_config.json + open_clip_pytorch_model.bin)."""
    from kartoteka_dev.tiny_embedders import build_tiny_open_clip

    return build_tiny_open_clip(embedder_models_dir / "open-clip")


@pytest.fixture(scope="session")
def tiny_sketch_search(embedder_models_dir: Path) -> Path:
    """A Sketch-Search checkpoint (convnext_atto + 64/48 head) as torch.compile saves it."""
    from kartoteka_dev.tiny_embedders import build_tiny_sketch_search

    return build_tiny_sketch_search(embedder_models_dir / "sketch-search" / "phase_1.pth")


@pytest.fixture(scope="session")
def lite0() -> EfficientNetLite0Embedder:
    """The real ImageNet EfficientNet-Lite0 from its PyPI package."""
    from kartoteka.infrastructure.ml.embedders.efficientnet import EfficientNetLite0Embedder

    return EfficientNetLite0Embedder(device=CPU)


@pytest.fixture(scope="session")
def lasa() -> list[Sketch]:
    """LASA's 26 shapes × 7 demonstrations drawn as a drawing app exports them: on a transparent canvas."""
    from kartoteka_dev.tiny_embedders import lasa_sketches

    return lasa_sketches(transparent=True)
