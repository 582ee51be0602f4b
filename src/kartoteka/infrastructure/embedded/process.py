"""Spawning, waiting for and stopping server processes, by PID and never by name.

Every server runs in its own session (``start_new_session=True``): a Ctrl-C in the terminal
reaches only Kartoteka, which then stops the servers itself, in order, and a server with its
helpers can be signalled as one process group. Other programs on the machine may run the same
binaries, so nothing is ever looked up or signalled by name.

A running server's PID (with its kernel start time, so a recycled PID is never mistaken for it)
is kept in a file. If Kartoteka was killed outright and left a server behind, the next start on
the same data directory finds it through that file and stops it before starting a new one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger("kartoteka.embedded")

LOG_TAIL_LINES = 40
# A log bigger than this at start-up is moved aside (one old generation is kept).
LOG_ROTATE_BYTES = 10 * 1024 * 1024


class ServerStartError(RuntimeError):
    """A server could not be started; the message says why and quotes the end of its log."""


def log_tail(path: Path, lines: int = LOG_TAIL_LINES, start: int = 0) -> str:
    """The last ``lines`` lines of a log from byte offset ``start`` (this run's part of the file)."""
    try:
        with path.open("rb") as log:
            log.seek(start)
            text = log.read().decode(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    process: ServerProcess | None = None,
) -> None:
    """Poll ``condition`` until it holds, or fail once ``timeout`` seconds have passed.

    Exceptions from the condition count as "not yet": a booting server refuses connections or
    answers with errors. If ``process`` exits meanwhile this fails at once, with its log,
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
            message = f"timed out after {timeout:g} s waiting for {what}{detail}"
            if process is not None:
                raise process.start_error(message)
            raise ServerStartError(message)
        time.sleep(interval)


def run_as(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run a short-lived tool (as ``user`` if given), capturing its output; no check of its status."""
    return subprocess.run(
        list(argv),
        check=False,
        capture_output=True,
        text=True,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        user=user,
        group=_primary_group(user),
        extra_groups=[] if user else None,
    )


def run_tool(
    argv: Sequence[str],
    what: str,
    *,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> str:
    """Run a short-lived tool and return its output; raise with that output if it fails."""
    try:
        result = run_as(argv, env=env, user=user, stdin=stdin, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerStartError(f"{what} failed: {exc}") from None
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise ServerStartError(f"{what} failed with code {result.returncode}:\n{output.strip()}")
    return output


class ServerProcess:
    """A server in its own process group, its output appended to ``log_path``.

    ``stop`` is idempotent and may be called from any thread: the polite ``stop_signal`` goes to
    the leader, which shuts its helpers down in order; after ``stop_timeout`` seconds, or once
    the leader is gone, the whole group is killed so nothing forked into it lingers.
    """

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
        pid_file: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.extra_logs = tuple(extra_logs)
        self.pid_file = pid_file
        self._stop_lock = threading.Lock()
        self._stopped = False
        log_path.parent.mkdir(parents=True, exist_ok=True)
        _rotate(log_path)
        with log_path.open("ab") as log:
            self._log_start = log.tell()
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- {stamp} kartoteka starts {name}: {' '.join(argv)}\n".encode())
            log.flush()
            try:
                self._popen = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(env) if env is not None else None,
                    cwd=cwd,
                    start_new_session=True,
                    user=user,
                    group=_primary_group(user),
                    extra_groups=[] if user else None,
                )
            except OSError as exc:
                raise ServerStartError(f"cannot start {name} ({argv[0]}): {exc}") from None
        self.pid = self._popen.pid
        if pid_file is not None:
            write_pid_file(pid_file, self.pid)

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    def exited(self) -> bool:
        return self._popen.poll() is not None

    def start_error(self, message: str) -> ServerStartError:
        """An error naming the server and quoting what it logged during this run."""
        parts = [f"{self.name} (pid {self.pid}) {message}", f"--- end of {self.log_path} ---"]
        parts.append(log_tail(self.log_path, start=self._log_start))
        for extra in self.extra_logs:
            parts += [f"--- end of {extra} ---", log_tail(extra)]
        return ServerStartError("\n".join(parts))

    def stop(self) -> None:
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            if not self.exited():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, self.stop_signal)
                try:
                    self._popen.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    logger.warning(
                        "%s (pid %d) ignored %s for %g s", self.name, self.pid, self.stop_signal.name, self.stop_timeout
                    )
            # Its id is the group's id, as it leads a new session.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            try:
                self._popen.wait(10)
            except subprocess.TimeoutExpired:
                logger.warning("%s (pid %d) survived SIGKILL", self.name, self.pid)
            if self.pid_file is not None:
                self.pid_file.unlink(missing_ok=True)


def _primary_group(user: str | None) -> int | None:
    """A child run as ``user`` gets that user's primary group and no supplementary ones (root's)."""
    return pwd.getpwnam(user).pw_gid if user else None


def _rotate(log_path: Path) -> None:
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > LOG_ROTATE_BYTES:
            log_path.replace(log_path.with_name(log_path.name + ".1"))


# --- PIDs of servers left behind by a previous run -------------------------------------------


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), or None if it is gone.

    A PID plus its start time names one process for good, where a PID alone may be recycled.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    # fields[0] is field 3 (state); the start time is field 22. A zombie has finished running.
    if not fields or fields[0] == "Z":
        return None
    return int(fields[19])


def write_pid_file(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    started = process_start_time(pid)
    path.write_text(f"{pid} {started if started is not None else ''}".rstrip() + "\n")


def read_pid_file(path: Path) -> tuple[int, int | None] | None:
    """``(pid, start time)`` from a PID file, or None if it is missing or unreadable."""
    try:
        parts = path.read_text().split()
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else None
    except (OSError, ValueError, IndexError):
        return None


def is_running(pid: int) -> bool:
    """Whether a process with this PID exists and has not finished (zombies count as finished)."""
    if Path("/proc").is_dir():
        return process_start_time(pid) is not None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_pid(pid: int, stop_signal: signal.Signals, timeout: float) -> None:
    """Stop a process that is not our child (so it cannot be waited for): signal, poll, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, stop_signal)
    deadline = time.monotonic() + timeout
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    # It led its own process group (see ServerProcess): take its helpers with it.
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def stop_leftover(pid_file: Path, stop_signal: signal.Signals, timeout: float) -> int | None:
    """Stop the server recorded in ``pid_file`` if that very process still runs; return its PID.

    The caller must hold the data directory's lock (see ``state.DataDirLock``), so a server
    found here belongs to no live Kartoteka: its owner was killed without stopping it.
    """
    recorded = read_pid_file(pid_file)
    if recorded is None:
        pid_file.unlink(missing_ok=True)
        return None
    pid, started = recorded
    alive = started is not None and process_start_time(pid) == started
    if alive:
        stop_pid(pid, stop_signal, timeout)
    pid_file.unlink(missing_ok=True)
    return pid if alive else None
