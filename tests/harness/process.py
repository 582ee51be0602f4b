"""Spawning, waiting for and stopping server processes.

Every server runs in its own session (``start_new_session=True``) so that it, and anything it
forks, can be signalled as one process group by PID, never by name: other test runs, or a
developer's own servers, may be running the same binaries on this machine. Stopping is
registered with ``atexit`` as well as with the fixture teardown because an interrupted run must
not leave servers (and their ports) behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_cleanups: list[Callable[[], None]] = []
_cleanups_lock = threading.Lock()
_installed = False


class ServerStartError(RuntimeError):
    """A server did not become ready; the message carries the tail of its log."""


def _warn(message: str) -> None:
    """Report on stderr: teardown problems must be visible but must not fail the run."""
    print(f"kartoteka test harness: {message}", file=sys.stderr)


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, because the reason a server died is almost always there."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


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


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    process: ManagedProcess | None = None,
) -> None:
    """Poll ``condition`` until it holds or ``timeout`` passes.

    Exceptions from the condition count as "not yet", since a server that is still booting
    refuses connections or answers with errors. If ``process`` exits meanwhile we fail at once
    instead of waiting out the deadline for a server that can no longer come up.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            if condition():
                return
        except Exception as exc:
            last_error = exc
        if process is not None and process.exited():
            raise process.start_error(f"exited with code {process.returncode} before {what}")
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            message = f"timed out after {timeout:.0f} s waiting for {what}{detail}"
            if process is not None:
                raise process.start_error(message)
            raise ServerStartError(message)
        time.sleep(interval)


def port_accepts(host: str, port: int) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


_async_runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-async")


def run_async(coro_factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
    """Run a coroutine to completion from synchronous fixture code.

    It runs on a private thread with its own event loop, so it works whether or not the
    calling thread already has a running loop (pytest-asyncio's, for instance).
    """

    def target() -> T:
        return asyncio.run(asyncio.wait_for(coro_factory(), timeout))

    return _async_runner.submit(target).result()


class ManagedProcess:
    """A server process in its own process group, with its output in a log file."""

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
        self.name = name
        self.log_path = log_path
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.extra_logs = tuple(extra_logs)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                user=user,
                group=_primary_group(user) if user else None,
                extra_groups=[] if user else None,
            )
        self.pid = self._popen.pid
        self.stop = register_cleanup(self._stop)

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    def exited(self) -> bool:
        return self._popen.poll() is not None

    def start_error(self, message: str) -> ServerStartError:
        """An error naming the server and quoting its logs, for failed start-ups."""
        parts = [f"{self.name} (pid {self.pid}) {message}", f"--- {self.log_path} ---"]
        parts.append(log_tail(self.log_path))
        for extra in self.extra_logs:
            parts += [f"--- {extra} ---", log_tail(extra)]
        return ServerStartError("\n".join(parts))

    def _signal_group(self, sig: signal.Signals) -> None:
        """Signal the whole group (its id is our child's PID, as it leads a new session)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def _stop(self) -> None:
        """Ask the leader politely, then SIGKILL the whole group.

        The polite signal goes to the leader only: servers shut their own helpers down in order
        (signalling an Erlang VM's port helpers directly makes it crash instead of stopping).
        The group is killed after a clean exit as well, so anything forked into it that
        outlived the leader does not linger.
        """
        if not self.exited():
            os.kill(self.pid, self.stop_signal)
            try:
                self._popen.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                _warn(f"{self.name} ignored {self.stop_signal.name} for {self.stop_timeout} s")
        self._signal_group(signal.SIGKILL)
        try:
            self._popen.wait(10)
        except subprocess.TimeoutExpired:
            _warn(f"{self.name} (pid {self.pid}) survived SIGKILL")


def _primary_group(user: str) -> int:
    return pwd.getpwnam(user).pw_gid
