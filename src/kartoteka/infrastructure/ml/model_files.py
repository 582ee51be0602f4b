"""Finding model weights on disk: a local path, or a hub id in the local hub cache.

Machines that run Kartoteka often cannot reach a model hub, so nothing is ever
downloaded at run time. A model that is not where the configuration says is a
start-up error that names what was looked for and where.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kartoteka.application.shared.models import ModelUnavailableError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_model_path(reference: str, *, role: str) -> Path:
    """Return a local file or directory for ``reference`` (a path or ``owner/name`` hub id)."""
    candidate = Path(reference).expanduser()
    if candidate.exists():
        return candidate
    if is_hub_id(reference):
        cached = _from_hub_cache(reference)
        if cached is not None:
            return cached
        raise ModelUnavailableError(
            f"{role} model {reference!r} is not a local path and is not in the hub cache "
            f"({_hub_cache_dir()}); fetch it with `kartoteka models pull` where the hub is reachable, or set the model "
            "setting to a local path"
        )
    raise ModelUnavailableError(f"{role} model path {str(candidate)!r} does not exist")


def is_hub_id(reference: str) -> bool:
    """``owner/name`` that is not a path someone meant (``./a/b`` or ``/a/b``)."""
    return bool(_HUB_ID.match(reference)) and not reference.startswith((".", "/"))


def pick_file(path: Path, filename: str, suffixes: tuple[str, ...], *, role: str) -> Path:
    """A weights file: ``path`` itself, ``path/filename``, or the only file with a known suffix."""
    if path.is_file():
        return path
    named = path / filename
    if named.is_file():
        return named
    matches = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if len(matches) == 1:
        return matches[0]
    found = ", ".join(p.name for p in matches) or "none"
    raise ModelUnavailableError(
        f"{role} model directory {str(path)!r} has no {filename!r}; files with {'/'.join(suffixes)}: {found}"
    )


def _hub_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _from_hub_cache(repo_id: str) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        return None


def revision_of(path: Path) -> str:
    """A short identity for loaded weights: the hub snapshot hash, else size+mtime of the files."""
    parts = path.resolve().parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1][:12]
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    total = 0
    newest = 0
    for f in files:
        st = os.stat(f)
        total += st.st_size
        newest = max(newest, int(st.st_mtime))
    return f"{total:x}-{newest:x}"
