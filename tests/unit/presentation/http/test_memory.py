"""The api trims its heap once after a crowd of sockets has left, not on every close."""

from __future__ import annotations

import asyncio

from kartoteka.presentation.http.memory import MemoryReleaser


async def test_trims_once_after_open_sockets_fall_to_half_of_their_peak() -> None:
    trimmed = asyncio.Event()
    calls: list[int] = []

    def release() -> None:
        calls.append(1)
        trimmed.set()

    memory = MemoryReleaser(release, delay_s=0.0, min_peak=4)
    for _ in range(8):
        memory.opened()
    for _ in range(3):
        memory.closed()  # 5 of 8 still open: above half of the peak, nothing scheduled
    await asyncio.sleep(0)
    assert not calls
    memory.closed()  # 4 of 8: at half, a trim is scheduled
    await asyncio.wait_for(trimmed.wait(), 5)
    assert calls == [1]
    assert memory.open == 4


async def test_a_few_sockets_never_trigger_a_trim() -> None:
    calls: list[int] = []
    memory = MemoryReleaser(lambda: calls.append(1), delay_s=0.0, min_peak=64)
    for _ in range(10):
        memory.opened()
    for _ in range(10):
        memory.closed()
    await asyncio.sleep(0.05)
    assert calls == []


async def test_closes_in_a_row_are_debounced_into_one_trim() -> None:
    trimmed = asyncio.Event()
    calls: list[int] = []

    def release() -> None:
        calls.append(1)
        trimmed.set()

    memory = MemoryReleaser(release, delay_s=0.05, min_peak=2)
    for _ in range(100):
        memory.opened()
    for _ in range(100):
        memory.closed()
    await asyncio.wait_for(trimmed.wait(), 5)
    await asyncio.sleep(0.1)  # a second trim would have been scheduled within the same delay
    assert calls == [1]
