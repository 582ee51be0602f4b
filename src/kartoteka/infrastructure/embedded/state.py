"""What the embedded servers keep in the data directory besides their data: locks and secrets.

Layout (every server uses its own names, so each can also run alone)::

    <data_dir>/<server>/             the server's own data
    <data_dir>/logs/<server>.log     its output, appended run after run
    <data_dir>/run/<server>.lock     held while it runs (a second Kartoteka on the same dir fails)
    <data_dir>/run/<server>.pid      PID and start time of the running server
    <data_dir>/secrets/<server>.json generated credentials, mode 0600, reused by later runs
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from kartoteka.infrastructure.embedded.process import ServerStartError


class DataDirLock:
    """An exclusive ``flock`` on a file, held for as long as a server runs.

    The kernel drops it when the holder dies, however it dies, so a stale lock never blocks a
    restart. The descriptor is not inherited by the servers (Python opens it close-on-exec).
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ServerStartError(
                f"{self.what} in {self.path.parent.parent} is already in use by another process (pid {holder}); "
                "stop it first, or use another data directory"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None


def generate_password(nbytes: int = 18) -> str:
    """A URL-safe random password (no characters that need quoting in URLs or DSNs)."""
    return secrets.token_urlsafe(nbytes)


def load_or_create_secrets(path: Path, generators: Mapping[str, Callable[[], str]]) -> dict[str, str]:
    """The credentials stored in ``path``; on first use generated (one generator per key) and stored 0600.

    Existing credentials are never replaced: the server's data already depends on them (the
    PostgreSQL cluster has the password baked in), so a damaged file is an error, not a reset.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return _create_secrets(path, {key: generate() for key, generate in generators.items()})
    expected = set(generators)
    try:
        values = json.loads(text)
        if not isinstance(values, dict) or not expected <= values.keys():
            raise ValueError(f"expected the keys {sorted(expected)}")
        if not all(isinstance(values[k], str) and values[k] for k in expected):
            raise ValueError("values must be non-empty strings")
    except ValueError as exc:
        raise ServerStartError(
            f"cannot use the stored credentials in {path}: {exc}. Restore the file, or move the data "
            "directory away to start afresh"
        ) from None
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return {k: values[k] for k in expected}


def _create_secrets(path: Path, values: dict[str, str]) -> dict[str, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(values, file, indent=2)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    return values
