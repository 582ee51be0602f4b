"""PostgreSQL, Valkey and S3 together, for ``kartoteka serve`` with no configuration.

Usage (from async code)::

    stack = EmbeddedStack(data_dir)
    endpoints = await stack.start()      # all three answer; raises ServerStartError otherwise
    try:
        ...                              # run the app against endpoints.database_url etc.
    finally:
        await stack.stop()               # reverse order; always safe to call

or ``async with EmbeddedStack(data_dir) as endpoints: ...``.

The servers start concurrently, each in a worker thread (starting is spawning a process and
polling it). If one fails, the others are still waited for, then all are stopped before the
error propagates. If start-up is cancelled (Ctrl-C), the starts run on in the background and
everything is stopped when they are over. Stopping runs in a worker thread that goes through
every server, newest first, even if one fails or the awaiting task is cancelled: a second
Ctrl-C cannot leave servers behind, as ``asyncio.run`` waits for those threads before exiting.

Servers outlive only a hard kill of this process (SIGKILL, a crash): the next start on the same
data directory finds them through their PID files and stops them first. ``serve`` should turn
SIGTERM into the same shutdown as Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kartoteka.infrastructure.embedded.base import EmbeddedServer
from kartoteka.infrastructure.embedded.network import LOOPBACK
from kartoteka.infrastructure.embedded.postgres import EmbeddedPostgres
from kartoteka.infrastructure.embedded.process import ServerStartError, logger
from kartoteka.infrastructure.embedded.s3 import EmbeddedS3
from kartoteka.infrastructure.embedded.valkey import EmbeddedValkey

DATA_DIR_VARIABLE = "KARTOTEKA_DATA_DIR"


@dataclass(frozen=True)
class EmbeddedEndpoints:
    """Where the running embedded servers are, with the credentials to use them."""

    database_url: str  # postgresql+asyncpg://postgres:<password>@127.0.0.1:<port>/kartoteka
    redis_url: str  # redis://127.0.0.1:<port>/0
    s3_endpoint: str  # 127.0.0.1:<port>, plain HTTP
    s3_access_key: str
    s3_secret_key: str
    s3_region: str


def default_data_dir() -> Path:
    """``$KARTOTEKA_DATA_DIR``; else ``/var/lib/kartoteka`` for root, ``$XDG_DATA_HOME/kartoteka`` otherwise.

    Root gets a system directory because PostgreSQL then runs as a system user, which cannot
    enter root's private home directory.
    """
    configured = os.environ.get(DATA_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser().absolute()
    if os.geteuid() == 0:
        return Path("/var/lib/kartoteka")
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "kartoteka"


class EmbeddedStack:
    """The three embedded servers under one data directory (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        postgres_port: int | None = None,
        redis_port: int | None = None,
        s3_port: int | None = None,
        host: str = LOOPBACK,
    ) -> None:
        """``host`` is the address all three listen on (``embedded.host``); loopback unless asked."""
        self.data_dir = Path(data_dir).absolute()
        self.postgres = EmbeddedPostgres(self.data_dir, postgres_port, host=host)
        self.valkey = EmbeddedValkey(self.data_dir, redis_port, host=host)
        self.s3 = EmbeddedS3(self.data_dir, s3_port, host=host)
        self._endpoints: EmbeddedEndpoints | None = None
        self._starting: asyncio.Future[None] | None = None
        self._state_lock = threading.Lock()
        self._abandoned = False
        self._start_finished = False

    @property
    def servers(self) -> tuple[EmbeddedServer, ...]:
        """In start order; they are stopped in reverse."""
        return (self.postgres, self.valkey, self.s3)

    @property
    def endpoints(self) -> EmbeddedEndpoints:
        if self._endpoints is None:
            raise RuntimeError("the embedded stack has not been started")
        return self._endpoints

    def pids(self) -> dict[str, int]:
        """PIDs of the servers running now, by server name."""
        return {s.name: pid for s in self.servers if (pid := s.pid) is not None}

    async def start(self) -> EmbeddedEndpoints:
        if self._endpoints is not None:
            return self._endpoints
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._state_lock:
            self._abandoned = self._start_finished = False
        self._starting = asyncio.get_running_loop().run_in_executor(None, self._start_all)
        try:
            await asyncio.shield(self._starting)
        except asyncio.CancelledError:
            with self._state_lock:
                # Still starting: the start thread stops everything once the starts are over.
                self._abandoned = True
                finished = self._start_finished
            if finished:
                await self.stop()
            raise
        self._endpoints = EmbeddedEndpoints(
            database_url=self.postgres.url,
            redis_url=self.valkey.url,
            s3_endpoint=self.s3.endpoint,
            s3_access_key=self.s3.access_key,
            s3_secret_key=self.s3.secret_key,
            s3_region=self.s3.region,
        )
        return self._endpoints

    def _start_all(self) -> None:
        """Start the servers concurrently; on any failure, or if abandoned meanwhile, stop them all."""
        with ThreadPoolExecutor(len(self.servers), thread_name_prefix="kartoteka-embedded") as pool:
            started = [pool.submit(server.start) for server in self.servers]
        failures = [error for future in started if (error := future.exception()) is not None]
        with self._state_lock:
            self._start_finished = True
            if failures or self._abandoned:
                self._stop_all()
        if len(failures) == 1:
            raise failures[0]
        if failures:
            details = "\n\n".join(str(f) for f in failures)
            raise ServerStartError(f"{len(failures)} embedded servers failed to start:\n\n{details}") from failures[0]

    async def stop(self) -> None:
        """Stop every server, newest first; safe to call at any time, and more than once."""
        self._endpoints = None
        if self._starting is not None and not self._start_finished:
            # Let a start that is still under way finish first; its outcome does not matter here.
            await asyncio.shield(asyncio.wait([self._starting]))
        await asyncio.shield(asyncio.to_thread(self._stop_all))

    def _stop_all(self) -> None:
        for server in reversed(self.servers):
            try:
                server.stop()
            except Exception:
                logger.exception("stopping the embedded %s failed", server.name)

    async def __aenter__(self) -> EmbeddedEndpoints:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
