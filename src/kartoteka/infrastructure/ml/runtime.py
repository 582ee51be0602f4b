"""Where inference runs: the device, torch's thread pools, and a dedicated thread.

Models are called from one long-lived thread per model rather than the event
loop: a worker's loop must keep answering broker heartbeats, cancellation and
progress while a batch is on the CPU or GPU. One thread per model also keeps
non-thread-safe model objects (and their CUDA streams) on a single thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from kartoteka.infrastructure.config.settings import InferenceSettings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_threads_configured = False
_threads_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Device:
    """A resolved torch device and whether half precision is used on it."""

    name: str
    fp16: bool

    @property
    def is_cuda(self) -> bool:
        return self.name.startswith("cuda")


def resolve_device(settings: InferenceSettings) -> Device:
    """Pick CUDA when asked or when ``auto`` finds one; fp16 only ever on CUDA."""
    import torch

    configure_torch_threads(settings)
    wanted = settings.device
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"inference.device is {settings.device!r} but CUDA is not available")
    return Device(name=wanted, fp16=settings.fp16 and wanted.startswith("cuda"))


def configure_torch_threads(settings: InferenceSettings) -> None:
    """Apply thread counts once per process; torch refuses inter-op changes after first use."""
    global _threads_configured
    import torch

    with _threads_lock:
        if _threads_configured:
            return
        if settings.torch_threads is not None:
            torch.set_num_threads(settings.torch_threads)
        if settings.torch_interop_threads is not None:
            try:
                torch.set_num_interop_threads(settings.torch_interop_threads)
            except RuntimeError:
                log.warning("torch inter-op threads already fixed; keeping %d", torch.get_num_interop_threads())
        _threads_configured = True


class InferenceThread:
    """A single named thread that runs one model's calls in order."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"inference-{name}")

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
