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
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from kartoteka.infrastructure.config.settings import InferenceSettings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_threads_configured = False
_configured_threads: int | None = None
_detector_threads: int | None = None
_threads_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Device:
    """A resolved torch device and the precision models run at on it."""

    name: str
    precision: str = "fp32"

    @property
    def is_cuda(self) -> bool:
        return self.name.startswith("cuda")

    @property
    def fp16(self) -> bool:
        return self.precision == "fp16"

    def torch_dtype(self) -> Any:
        import torch

        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.precision]


class DeviceUnavailableError(RuntimeError):
    """The configured device or precision does not exist on this machine."""


def resolve_device(settings: InferenceSettings) -> Device:
    """Pick CUDA when asked or when ``auto`` finds one, and a precision the device runs natively."""
    import torch

    configure_torch_threads(settings)
    wanted = settings.device
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"inference.device is {settings.device!r} but CUDA is not available")
    cuda = wanted.startswith("cuda")
    precision = settings.precision
    if precision == "auto":
        precision = "fp16" if cuda else ("bf16" if _cpu_has_native_bf16() else "fp32")
    if precision == "fp16" and not cuda:
        raise DeviceUnavailableError("inference.precision fp16 needs a CUDA device; use bf16 or fp32 on CPU")
    if precision == "bf16" and not cuda and not _cpu_has_native_bf16():
        raise DeviceUnavailableError("inference.precision bf16: this CPU has no native bf16 support")
    return Device(name=wanted, precision=precision)


def _cpu_has_native_bf16() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure_torch_threads(settings: InferenceSettings) -> None:
    """Apply thread counts once per process; torch refuses inter-op changes after first use.

    The intra-op count is always set explicitly: importing ultralytics sets
    OMP_NUM_THREADS=1 when it is unset, which would otherwise leave torch on
    a single core.
    """
    global _threads_configured, _configured_threads, _detector_threads
    import torch

    with _threads_lock:
        if _threads_configured:
            return
        _configured_threads = settings.torch_threads or available_cpus()
        _detector_threads = settings.detector_threads or max(1, _configured_threads // 2)
        torch.set_num_threads(_configured_threads)
        if settings.torch_interop_threads is not None:
            try:
                torch.set_num_interop_threads(settings.torch_interop_threads)
            except RuntimeError:
                log.warning("torch inter-op threads already fixed; keeping %d", torch.get_num_interop_threads())
        _threads_configured = True


def use_detector_threads() -> None:
    """Give the calling thread's torch ops the detector's share of the cores.

    torch keeps the intra-op count per calling thread (OpenMP), so this changes the
    detector's own thread only; ``restore_torch_threads`` afterwards leaves the
    process-wide count as configured. The share matters when a worker has two cards
    in flight: the detector and the recogniser then run at once, and two teams of
    every core each would stall each other (a thread of a team waiting at a barrier
    while the core it needs runs the other team).
    """
    import torch

    if _detector_threads is not None and torch.get_num_threads() != _detector_threads:
        torch.set_num_threads(_detector_threads)


def restore_torch_threads() -> None:
    """Undo ultralytics' habit of setting torch to ``cpu_count - 1`` threads on every CPU predict.

    On a two-core machine that is one thread, which would halve every model
    that runs after the detector in this process.
    """
    import torch

    if _configured_threads is not None and torch.get_num_threads() != _configured_threads:
        torch.set_num_threads(_configured_threads)


class InferenceThread:
    """A single named thread that runs one model's calls in order."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"inference-{name}")

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
