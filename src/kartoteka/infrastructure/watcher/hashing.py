"""RootFileHasher: content hashes of files of the configured roots, off the event loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from kartoteka.infrastructure.watcher.scanner import hash_files_async


class RootFileHasher:
    def __init__(self, roots: Mapping[str, Path]) -> None:
        self._roots = dict(roots)

    async def hash_many(self, root: str, paths: Sequence[str]) -> dict[str, str]:
        return await hash_files_async(self._roots[root], paths)
