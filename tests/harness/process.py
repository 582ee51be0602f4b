"""Spawning, waiting for and stopping server processes.

The process handling itself is production code (``kartoteka.infrastructure.embedded.process``,
which ``kartoteka serve`` uses too): every server runs in its own session so that it, and
anything it forks, can be signalled as one process group by PID, never by name. What the
harness adds is a safety net: stopping is registered with ``atexit`` as well as with the
fixture teardown, and SIGTERM is routed through teardown, because an interrupted test run must
not leave servers (and their ports) behind.
"""

from __future__ import annotations

import asyncio
import atexit
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from kartoteka.infrastructure.embedded.network import port_accepts
from kartoteka.infrastructure.embedded.process import ServerProcess, ServerStartError, log_tail
from kartoteka.infrastructure.embedded.process import wait_until as wait_for

__all__ = [
    "ManagedProcess",
    "ServerStartError",
    "log_tail",
    "port_accepts",
    "register_cleanup",
    "run_async",
    "run_cleanups",
    "wait_for",
]

T = TypeVar("T")

_cleanups: list[Callable[[], None]] = []
_cleanups_lock = threading.Lock()
_installed = False


def _warn(message: str) -> None:
    """Report on stderr: teardown problems must be visible but must not fail the run."""
    print(f"kartoteka test harness: {message}", file=sys.stderr)


def _on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM into KeyboardInterrupt so pytest runs fixture teardown before exiting."""
    raise KeyboardInterrupt(f"received signal {signum}")


def _install_safety_net() -> None:
    """Register the atexit hook, and route SIGTERM through teardown unless someone else owns it."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(run_cleanups)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def register_cleanup(func: Callable[[], None]) -> Callable[[], None]:
    """Run ``func`` at interpreter exit unless it was already run via the returned callable.

    The returned callable is idempotent, so fixture teardown and the atexit hook can both call
    it without double-stopping a server.
    """
    done = threading.Event()

    def once() -> None:
        if done.is_set():
            return
        done.set()
        with _cleanups_lock:
            if once in _cleanups:
                _cleanups.remove(once)
        func()

    with _cleanups_lock:
        _install_safety_net()
        _cleanups.append(once)
    return once


def run_cleanups() -> None:
    """Run outstanding cleanups newest first, continuing past failures so nothing is skipped."""
    while True:
        with _cleanups_lock:
            if not _cleanups:
                return
            func = _cleanups[-1]
        try:
            func()
        except Exception as exc:
            _warn(f"cleanup failed: {exc!r}")


_async_runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-async")


def run_async(coro_factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
    """Run a coroutine to completion from synchronous fixture code.

    It runs on a private thread with its own event loop, so it works whether or not the
    calling thread already has a running loop (pytest-asyncio's, for instance).
    """

    def target() -> T:
        return asyncio.run(asyncio.wait_for(coro_factory(), timeout))

    return _async_runner.submit(target).result()


class ManagedProcess(ServerProcess):
    """A server process (see ``ServerProcess``) that is also stopped at interpreter exit."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_timeout: float = 20,
        extra_logs: Sequence[Path] = (),
    ) -> None:
        super().__init__(
            name,
            argv,
            log_path=log_path,
            env=env,
            cwd=cwd,
            user=user,
            stop_signal=stop_signal,
            stop_timeout=stop_timeout,
            extra_logs=extra_logs,
        )
        self._stop_once = register_cleanup(super().stop)

    def stop(self) -> None:
        self._stop_once()
