"""What the three embedded servers have in common: data-directory layout, locking, start/stop."""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from kartoteka.infrastructure.embedded.process import ServerProcess, ServerStartError, logger, stop_leftover
from kartoteka.infrastructure.embedded.state import DataDirLock


class EmbeddedServer(ABC):
    """A server process whose data lives under ``data_dir`` and outlives the process.

    ``start`` blocks until the server answers (or raises ``ServerStartError`` with the end of
    its log, having cleaned up); ``stop`` is idempotent, safe after a failed start, and allows
    a later ``start``. Both are synchronous: the stack runs them in worker threads. Usable as a
    context manager.
    """

    name: ClassVar[str]
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    stop_timeout: ClassVar[float] = 30.0

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._lock = DataDirLock(self.run_dir / f"{self.name}.lock", f"the embedded {self.name}")
        self._process: ServerProcess | None = None

    @property
    def server_dir(self) -> Path:
        """The server's own data."""
        return self.data_dir / self.name

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "logs" / f"{self.name}.log"

    @property
    def secrets_path(self) -> Path:
        return self.data_dir / "secrets" / f"{self.name}.json"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def pid(self) -> int | None:
        """The server's PID while it runs."""
        if self._process is None or self._process.exited():
            return None
        return self._process.pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    def start(self) -> None:
        if self._process is not None:
            raise ServerStartError(f"the embedded {self.name} has already been started")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            # We hold the lock, so a server recorded here has no live owner: an earlier run was
            # killed before it could stop it. It holds our data (and maybe our port): stop it.
            leftover = stop_leftover(self.pid_file, self.stop_signal, self.stop_timeout)
            if leftover is not None:
                logger.warning("stopped the %s (pid %d) left running by an earlier run", self.name, leftover)
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            if self._process is not None:
                self._process.stop()
                self._process = None
        finally:
            self._lock.release()

    @abstractmethod
    def _start(self) -> None:
        """Prepare the data, spawn the server with ``_spawn`` and wait until it serves."""

    def _spawn(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        extra_logs: Sequence[Path] = (),
    ) -> ServerProcess:
        self._process = ServerProcess(
            self.name,
            argv,
            log_path=self.log_path,
            env=env,
            cwd=cwd,
            user=user,
            stop_signal=self.stop_signal,
            stop_timeout=self.stop_timeout,
            extra_logs=extra_logs,
            pid_file=self.pid_file,
        )
        return self._process

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
