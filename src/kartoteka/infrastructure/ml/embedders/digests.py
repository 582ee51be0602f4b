"""Content digests of weight files, remembered across restarts.

A model version must follow the bytes of its weights (a checkpoint replaced
under the same name must re-embed the gallery, not keep serving a stale index),
but hashing a gigabyte checkpoint at every start is slow. A digest is
therefore stored per path with the size and nanosecond mtime it was computed
for, and recomputed only when either changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class WeightDigests:
    """sha256 of files, cached in memory and (when given a path) in a JSON file.

    The file is rewritten atomically; processes sharing it may lose each
    other's entries, which costs a re-hash, never a wrong digest, because an
    entry is only trusted for the exact size and mtime it was made for.
    """

    def __init__(self, cache_file: Path | None = None) -> None:
        self._cache_file = cache_file
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, int | str]] = self._read()

    def digest(self, path: Path) -> str:
        resolved = path.resolve()
        st = resolved.stat()
        key = str(resolved)
        with self._lock:
            known = self._entries.get(key)
            if known is not None and known.get("size") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns:
                return str(known["sha256"])
        value = sha256_of(resolved)
        with self._lock:
            self._entries[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": value}
            self._write()
        return value

    def _read(self) -> dict[str, dict[str, int | str]]:
        if self._cache_file is None or not self._cache_file.is_file():
            return {}
        try:
            loaded = json.loads(self._cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable weight digest cache %s: %s", self._cache_file, exc)
            return {}
        if not isinstance(loaded, dict):
            return {}
        return {k: v for k, v in loaded.items() if isinstance(v, dict) and isinstance(v.get("sha256"), str)}

    def _write(self) -> None:
        if self._cache_file is None:
            return
        tmp: str | None = None
        try:
            self._cache_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._cache_file.parent, prefix=".digests-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._entries, handle, indent=0, sort_keys=True)
            os.replace(tmp, self._cache_file)
            tmp = None
        except OSError as exc:
            log.warning("cannot write weight digest cache %s: %s", self._cache_file, exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
