"""Device and precision resolution, and the inference thread."""

from __future__ import annotations

import threading

import pytest

from kartoteka.infrastructure.config.settings import InferenceSettings
from kartoteka.infrastructure.ml.runtime import DeviceUnavailableError, InferenceThread, resolve_device


def test_cpu_fp32_by_default() -> None:
    device = resolve_device(InferenceSettings(device="cpu"))
    assert (device.name, device.precision, device.is_cuda) == ("cpu", "fp32", False)


def test_fp16_on_cpu_is_refused_with_a_reason() -> None:
    with pytest.raises(DeviceUnavailableError, match="fp16 needs a CUDA device"):
        resolve_device(InferenceSettings(device="cpu", precision="fp16"))


def test_auto_precision_on_cpu_is_bf16_or_fp32() -> None:
    assert resolve_device(InferenceSettings(device="cpu", precision="auto")).precision in {"bf16", "fp32"}


def test_cuda_requested_without_cuda_is_a_clear_error() -> None:
    import torch

    if torch.cuda.is_available():
        assert resolve_device(InferenceSettings(device="cuda")).is_cuda
    else:
        with pytest.raises(DeviceUnavailableError, match="CUDA is not available"):
            resolve_device(InferenceSettings(device="cuda"))


async def test_inference_thread_runs_calls_in_order_on_one_named_thread() -> None:
    thread = InferenceThread("test")
    try:
        names = [await thread.run(lambda: threading.current_thread().name) for _ in range(3)]
        assert len(set(names)) == 1
        assert names[0].startswith("inference-test")
        assert names[0] != threading.main_thread().name
    finally:
        thread.close()
