"""The built-in embedders load their published formats and give unit vectors of their dimension."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.infrastructure.ml.embedders.base import IncompatibleWeightsError
from kartoteka.infrastructure.ml.embedders.clip import OpenClipEmbedder
from kartoteka.infrastructure.ml.embedders.efficientnet import (
    EfficientNetLite0Embedder,
    packaged_weights,
)
from kartoteka.infrastructure.ml.embedders.preprocessing import HALF, IMAGENET_MEAN, Preprocessing
from kartoteka.infrastructure.ml.embedders.sketch_search import SketchSearchEmbedder
from tests.integration.ml.embedders.conftest import CPU


def batch(n: int, size: int, seed: int = 0) -> NDArray[np.float32]:
    return np.random.default_rng(seed).normal(size=(n, 3, size, size)).astype(np.float32)


def check_vectors(vectors: Any, n: int, dimension: int) -> None:
    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32
    assert vectors.shape == (n, dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def check_layouts_and_batches(embedder: Any, size: int) -> None:
    """Channel-last equals channel-first; a vector does not depend on its batch-mates (eval mode)."""
    images = batch(3, size)
    first = embedder.embed(images)
    np.testing.assert_allclose(embedder.embed(images.transpose(0, 2, 3, 1)), first, atol=1e-5)
    np.testing.assert_allclose(embedder.embed(images[1]), first[1:2], atol=1e-5)  # [3,H,W]
    np.testing.assert_allclose(embedder.embed(images[1].transpose(1, 2, 0)), first[1:2], atol=1e-5)  # [H,W,3]
    assert not np.allclose(first[0], first[1], atol=1e-3)  # the input matters


# --- EfficientNet-Lite0 (real weights) ------------------------------------------------------------


def test_lite0_loads_the_packaged_imagenet_weights(lite0: EfficientNetLite0Embedder) -> None:
    assert lite0.weights == packaged_weights()
    assert lite0.dimension == 1280
    assert lite0.preprocessing == Preprocessing(size=224)
    assert not lite0._model.training
    assert not any(p.requires_grad for p in lite0._model.parameters())
    check_vectors(lite0.embed(batch(2, 224)), 2, 1280)
    check_layouts_and_batches(lite0, 224)


def test_lite0_weights_map_position_by_position(lite0: EfficientNetLite0Embedder) -> None:
    import torch

    source = torch.load(packaged_weights(), map_location="cpu", weights_only=True)
    tensors = [v for k, v in source.items() if not k.startswith("_fc.") and not k.endswith("num_batches_tracked")]
    assert len(tensors) == 245  # 247 with the classifier, which the embedder does not use
    loaded = [v for k, v in lite0._model.state_dict().items() if not k.endswith("num_batches_tracked")]
    assert all(torch.equal(a, b) for a, b in zip(tensors, loaded, strict=True))


@pytest.fixture(scope="module")
def lite0_state() -> dict[str, Any]:
    import torch

    state: dict[str, Any] = torch.load(packaged_weights(), map_location="cpu", weights_only=True)
    return state


def test_lite0_refuses_a_checkpoint_whose_tensors_do_not_line_up(tmp_path: Path, lite0_state: dict[str, Any]) -> None:
    import torch

    wrong_shape = dict(lite0_state)
    wrong_shape["_blocks.3._bn1.weight"] = torch.zeros(7)
    torch.save(wrong_shape, tmp_path / "shape.pth")
    with pytest.raises(
        IncompatibleWeightsError, match=r"tensor #\d+ _blocks\.3\._bn1\.weight \(7,\) does not correspond"
    ):
        EfficientNetLite0Embedder(str(tmp_path / "shape.pth"), device=CPU)

    one_missing = {k: v for k, v in lite0_state.items() if k != "_conv_head.weight"}
    torch.save(one_missing, tmp_path / "short.pth")
    with pytest.raises(IncompatibleWeightsError, match="has 244 tensors, tf_efficientnet_lite0 expects 245"):
        EfficientNetLite0Embedder(str(tmp_path / "short.pth"), device=CPU)


def test_lite0_weights_path_override(tmp_path: Path) -> None:
    copy = tmp_path / "lite0.pth"
    shutil.copy(packaged_weights(), copy)
    embedder = EfficientNetLite0Embedder(str(copy), device=CPU, mean=HALF, std=HALF)
    assert embedder.weights == copy
    assert embedder.preprocessing.mean == HALF
    assert EfficientNetLite0Embedder.weight_files(str(copy)) == [copy]
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        EfficientNetLite0Embedder(str(tmp_path / "missing.pth"), device=CPU)


# --- OpenCLIP (tiny ConvNeXt CLIP) ----------------------------------------------------------------


def test_open_clip_loads_a_hub_layout_directory(tiny_open_clip: Path) -> None:
    embedder = OpenClipEmbedder(str(tiny_open_clip), device=CPU)
    assert embedder.dimension == 32
    assert embedder.preprocessing.size == 64
    assert embedder.preprocessing.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    assert embedder.source.checkpoint == tiny_open_clip / "open_clip_pytorch_model.bin"
    assert not embedder._model.training
    check_vectors(embedder.embed(batch(2, 64)), 2, 32)
    check_layouts_and_batches(embedder, 64)
    texts = embedder.embed_text(["a red house", "a black cat"])
    check_vectors(texts, 2, 32)
    np.testing.assert_allclose(embedder.embed_text("a red house"), texts[:1], atol=1e-5)
    assert not np.allclose(texts[0], texts[1], atol=1e-3)
    # local-dir: names the same model.
    same = OpenClipEmbedder(f"local-dir:{tiny_open_clip}", device=CPU)
    np.testing.assert_allclose(same.embed(batch(1, 64)), embedder.embed(batch(1, 64)), atol=1e-6)


def hub_cache_with(tmp_path: Path, repo_id: str, files: Path) -> Path:
    """Lay ``files`` out as huggingface_hub caches a download of ``repo_id``."""
    owner, name = repo_id.split("/")
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / f"models--{owner}--{name}"
    snapshot = repo / "snapshots" / revision
    shutil.copytree(files, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def test_open_clip_reads_a_hub_id_from_the_local_hub_cache(
    tiny_open_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = hub_cache_with(tmp_path, "laion/CLIP-convnext_base_w-laion2B-s13B-b82K", tiny_open_clip)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    embedder = OpenClipEmbedder("hf-hub:laion/CLIP-convnext_base_w-laion2B-s13B-b82K", device=CPU)
    assert embedder.source.checkpoint == snapshot / "open_clip_pytorch_model.bin"
    files = OpenClipEmbedder.weight_files("hf-hub:laion/CLIP-convnext_base_w-laion2B-s13B-b82K")
    assert files == [snapshot / "open_clip_config.json", snapshot / "open_clip_pytorch_model.bin"]


def test_open_clip_missing_models_are_clear_errors(
    tiny_open_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(ModelUnavailableError, match=r"'laion/CLIP-convnext_base_w.*' is not a local path .*hub cache"):
        OpenClipEmbedder("hf-hub:laion/CLIP-convnext_base_w-laion2B-s13B-b82K", device=CPU)
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    shutil.copy(tiny_open_clip / "open_clip_config.json", config_only)
    # open_clip itself would run random weights here; Kartoteka refuses.
    with pytest.raises(ModelUnavailableError, match=r"has no weights named open_clip_model\.safetensors"):
        OpenClipEmbedder(str(config_only), device=CPU)
    with pytest.raises(ModelUnavailableError, match=r"has no open_clip_config\.json"):
        OpenClipEmbedder(str(tmp_path), device=CPU)
    with pytest.raises(ModelUnavailableError, match="'no-such-arch' is not an open_clip architecture"):
        OpenClipEmbedder("no-such-arch", pretrained=str(tiny_open_clip / "open_clip_pytorch_model.bin"), device=CPU)
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        OpenClipEmbedder("convnext_base_w", pretrained=str(tmp_path / "missing.bin"), device=CPU)


def test_open_clip_refuses_weights_of_another_shape(tiny_open_clip: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_open_clip, other)
    config = json.loads((other / "open_clip_config.json").read_text())
    config["model_cfg"]["embed_dim"] = 40
    (other / "open_clip_config.json").write_text(json.dumps(config))
    with pytest.raises(IncompatibleWeightsError, match="does not fit local-dir:"):
        OpenClipEmbedder(str(other), device=CPU)


# --- Sketch-Search -------------------------------------------------------------------------------


def test_sketch_search_loads_a_compiled_checkpoint(tiny_sketch_search: Path) -> None:
    embedder = SketchSearchEmbedder(str(tiny_sketch_search), timm_backbone="convnext_atto", image_size=64, device=CPU)
    assert embedder.dimension == 48  # read from the checkpoint
    assert embedder.preprocessing == Preprocessing(
        size=64, mean=IMAGENET_MEAN, sketch_mean=HALF, sketch_std=HALF, sketch_grayscale=True
    )
    assert not embedder._model.training
    assert not any(p.requires_grad for p in embedder._model.parameters())
    check_vectors(embedder.embed(batch(2, 64)), 2, 48)
    check_layouts_and_batches(embedder, 64)
    # Photos and sketches share the network; only their preprocessing differs.
    np.testing.assert_array_equal(embedder.embed_sketch(batch(2, 64)), embedder.embed(batch(2, 64)))


def test_sketch_search_loads_a_plain_state_dict_too(embedder_models_dir: Path) -> None:
    from kartoteka_dev.tiny_embedders import build_tiny_sketch_search

    plain = build_tiny_sketch_search(embedder_models_dir / "plain" / "w.pth", compiled=False, embedding=16)
    embedder = SketchSearchEmbedder(str(plain), "convnext_atto", 16, 64, image_size=64, device=CPU)
    check_vectors(embedder.embed(batch(1, 64)), 1, 16)
    # A directory holding one checkpoint works as well.
    assert SketchSearchEmbedder.weight_files(str(plain.parent)) == [plain]


def test_sketch_search_errors_say_what_does_not_fit(tiny_sketch_search: Path, tmp_path: Path) -> None:
    import torch

    with pytest.raises(
        IncompatibleWeightsError, match="embedding_size is configured as 1536 but the checkpoint has 48"
    ):
        SketchSearchEmbedder(str(tiny_sketch_search), "convnext_atto", embedding_size=1536, device=CPU)
    with pytest.raises(IncompatibleWeightsError, match="head takes 320 features but convnext_femto gives 384"):
        SketchSearchEmbedder(str(tiny_sketch_search), "convnext_femto", device=CPU)
    torch.save({"something.else": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(IncompatibleWeightsError, match=r"not a Sketch-Search checkpoint: no 2-D projection_head\.0"):
        SketchSearchEmbedder(str(tmp_path / "other.pth"), "convnext_atto", device=CPU)
    state = torch.load(tiny_sketch_search, weights_only=True)
    state.pop("_orig_mod.backbone.model.stem.0.weight")
    torch.save(state, tmp_path / "incomplete.pth")
    with pytest.raises(IncompatibleWeightsError, match=r"does not fit convnext_atto \+ head: .*stem\.0\.weight"):
        SketchSearchEmbedder(str(tmp_path / "incomplete.pth"), "convnext_atto", device=CPU)
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        SketchSearchEmbedder(str(tmp_path / "missing.pth"), device=CPU)
