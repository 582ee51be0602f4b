"""Give the heap back to the operating system after a crowd of WebSockets has left.

A thousand open sockets cost the api process tens of MiB (frames, buffers,
per-connection state). When they close, Python frees the objects, but glibc's
allocator keeps the freed pages in its arenas, so the process stays at its
high-water mark until something asks for them back. ``malloc_trim`` does
that; calling it once, shortly after the number of open sockets has fallen
well below its peak, brings memory back near where it was without paying the
cost on every close.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _glibc_trim() -> Callable[[], None] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def release() -> None:
        gc.collect()
        trim(0)

    return release


class MemoryReleaser:
    """Counts open sockets; after they drop to at most half of their peak, trims the heap once, later."""

    def __init__(self, release: Callable[[], None] | None = None, *, delay_s: float = 1.0, min_peak: int = 64) -> None:
        self._release = release if release is not None else _glibc_trim()
        self._delay_s = delay_s
        self._min_peak = min_peak
        self._open = 0
        self._peak = 0
        self._pending: asyncio.TimerHandle | None = None
        self._running: asyncio.Task[None] | None = None

    @property
    def open(self) -> int:
        return self._open

    def opened(self) -> None:
        self._open += 1
        self._peak = max(self._peak, self._open)

    def closed(self) -> None:
        self._open = max(0, self._open - 1)
        if self._release is None or self._peak < self._min_peak or self._open > self._peak // 2:
            return
        if self._pending is not None:
            self._pending.cancel()  # still closing: wait until the crowd has gone
        self._pending = asyncio.get_running_loop().call_later(self._delay_s, self._trim)

    def _trim(self) -> None:
        self._pending = None
        if self._running is not None and not self._running.done():
            return
        self._peak = self._open
        release = self._release
        assert release is not None
        self._running = asyncio.create_task(asyncio.to_thread(release), name="malloc-trim")
        self._running.add_done_callback(_report)


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("releasing memory failed: %s", task.exception())
