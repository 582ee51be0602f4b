"""Weight digests are remembered by path, size and mtime, as the registry's versions show."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kartoteka.infrastructure.config.embedders import EmbedderEntry, EmbedderRegistrySettings
from kartoteka.infrastructure.ml.embedders.registry import EmbedderRegistry

FAKES = "tests.fakes.embedders"


def registry(tmp_path: Path, embedders: dict[str, EmbedderEntry], **kwargs: Any) -> EmbedderRegistry:
    settings = EmbedderRegistrySettings(
        chosen_embedder=next(iter(embedders)), embedders=embedders, digest_cache=str(tmp_path / "digests.json")
    )
    return EmbedderRegistry(settings, **kwargs)


def weights_entry(weights: Path, target: str = f"{FAKES}.PixelStatsEmbedder") -> EmbedderEntry:
    return EmbedderEntry(target=target, kwargs={"weights_path": str(weights), "size": 3})


def test_digests_are_cached_by_path_size_and_mtime(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"AAAA")
    before = registry(tmp_path, {"k": weights_entry(weights)}).version_of("k")
    st = weights.stat()
    # Same size and mtime: trusted from the cache file without reading the bytes again.
    weights.write_bytes(b"BBBB")
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert registry(tmp_path, {"k": weights_entry(weights)}).version_of("k") == before
    # A touched file is hashed again.
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert registry(tmp_path, {"k": weights_entry(weights)}).version_of("k") != before
    assert (tmp_path / "digests.json").is_file()


def test_an_unreadable_digest_cache_is_ignored(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    reference = registry(tmp_path, {"k": weights_entry(weights)}).version_of("k")
    (tmp_path / "digests.json").write_text("{not json", encoding="utf-8")
    assert registry(tmp_path, {"k": weights_entry(weights)}).version_of("k") == reference
