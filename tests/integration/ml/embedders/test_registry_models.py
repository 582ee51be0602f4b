"""The default registry entries name the built-in embedders and fail clearly without their weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kartoteka.infrastructure.config.embedders import EmbedderEntry, EmbedderRegistrySettings
from kartoteka.infrastructure.ml.embedders.clip import OpenClipEmbedder
from kartoteka.infrastructure.ml.embedders.efficientnet import EfficientNetLite0Embedder
from kartoteka.infrastructure.ml.embedders.registry import EmbedderLoadError, EmbedderRegistry
from kartoteka.infrastructure.ml.embedders.sketch_search import SketchSearchEmbedder
from tests.integration.ml.embedders.conftest import CPU


def default_registry(tmp_path: Path, **overrides: EmbedderEntry) -> EmbedderRegistry:
    entries = {**EmbedderRegistrySettings().embedders, **overrides}
    settings = EmbedderRegistrySettings(embedders=entries, digest_cache=str(tmp_path / "digests.json"))
    return EmbedderRegistry(settings, device=CPU)


def test_default_entry_is_the_real_lite0_with_a_stable_version(tmp_path: Path) -> None:
    registry = default_registry(tmp_path)
    embedder = registry.create()
    assert isinstance(embedder, EfficientNetLite0Embedder)
    assert embedder.device is CPU
    version = registry.version_of()
    assert len(version) == 16
    assert default_registry(tmp_path).version_of() == version  # restarted, with the digest cache
    other_cache = EmbedderRegistry(EmbedderRegistrySettings(digest_cache=str(tmp_path / "fresh.json")), device=CPU)
    assert other_cache.version_of() == version  # hashed again from the packaged file


def test_default_entries_without_weights_are_clear_start_up_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.chdir(tmp_path)
    registry = default_registry(tmp_path)
    with pytest.raises(
        EmbedderLoadError,
        match=r"embedder 'sketch_search': model weights unavailable: .*convnext_tiny_phase_1\.pth' does not exist",
    ):
        registry.create("sketch_search")
    with pytest.raises(EmbedderLoadError, match=r"embedder 'convnext_clip': model weights unavailable: .*hub cache"):
        registry.create("convnext_clip")
    with pytest.raises(EmbedderLoadError, match=r"embedder 'sketch_search': cannot locate model weights"):
        registry.version_of("sketch_search")


def test_registry_builds_each_built_in_from_its_entry(
    tmp_path: Path, tiny_open_clip: Path, tiny_sketch_search: Path
) -> None:
    registry = default_registry(
        tmp_path,
        convnext_clip=EmbedderEntry(
            target="kartoteka.infrastructure.ml.embedders.clip.OpenClipEmbedder",
            kwargs={"model_name": str(tiny_open_clip)},
        ),
        sketch_search=EmbedderEntry(
            target="kartoteka.infrastructure.ml.embedders.sketch_search.SketchSearchEmbedder",
            kwargs={"weights_path": str(tiny_sketch_search), "timm_backbone": "convnext_atto", "image_size": 64},
        ),
    )
    clip = registry.create("convnext_clip")
    assert isinstance(clip, OpenClipEmbedder)
    sketch = registry.create("sketch_search")
    assert isinstance(sketch, SketchSearchEmbedder)
    assert sketch.embed(np.zeros((1, 64, 64, 3), dtype=np.float32)).shape == (1, 48)
    versions = {key: registry.version_of(key) for key in registry.known_keys()}
    assert len(set(versions.values())) == 3


def test_open_clip_version_follows_the_checkpoint_in_its_directory(tmp_path: Path, tiny_open_clip: Path) -> None:
    import shutil

    copy = tmp_path / "clip"
    shutil.copytree(tiny_open_clip, copy)
    entry = EmbedderEntry(
        target="kartoteka.infrastructure.ml.embedders.clip.OpenClipEmbedder", kwargs={"model_name": str(copy)}
    )
    before = default_registry(tmp_path, convnext_clip=entry).version_of("convnext_clip")
    with (copy / "open_clip_pytorch_model.bin").open("ab") as handle:
        handle.write(b"\0")
    assert default_registry(tmp_path, convnext_clip=entry).version_of("convnext_clip") != before
