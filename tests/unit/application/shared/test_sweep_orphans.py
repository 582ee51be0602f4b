"""The orphan sweep removes only old objects under the owned prefixes that no row names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from kartoteka.application.shared.sweep_orphans import SweepOrphanObjects
from tests.fakes.shared import START, FakeClock, MemoryStorage


class Owners:
    def __init__(self, *keys: str) -> None:
        self.keys = set(keys)
        self.asked: list[list[str]] = []

    async def owned(self, keys: Sequence[str]) -> set[str]:
        self.asked.append(list(keys))
        return self.keys & set(keys)


async def stored(storage: MemoryStorage, key: str, age_s: float) -> None:
    await storage.put(key, b"x", "image/png")
    storage.modified[key] = START - timedelta(seconds=age_s)


async def test_an_old_object_no_row_names_is_removed_and_the_rest_stay() -> None:
    storage = MemoryStorage()
    await stored(storage, "cards/a/original.png", 7200)  # orphan: old, no row
    await stored(storage, "cards/b/original.png", 7200)  # a card's scan
    await stored(storage, "cards/c/original.png", 10)  # young: a request may be about to commit it
    await stored(storage, "gallery/d/original.jpg", 7200)  # orphan upload
    await stored(storage, "thumbnails/e.jpg", 7200)  # an image's thumbnail
    await stored(storage, "exports/f.zip", 7200)  # not ours to judge
    owners = Owners("cards/b/original.png", "thumbnails/e.jpg")
    sweep = SweepOrphanObjects(storage, owners, FakeClock(), grace_s=3600)

    report = await sweep()

    assert sorted(storage.objects) == [
        "cards/b/original.png",
        "cards/c/original.png",
        "exports/f.zip",
        "thumbnails/e.jpg",
    ]
    assert (report.looked_at, report.deleted) == (4, 2)
    assert all("cards/c/original.png" not in asked for asked in owners.asked)


async def test_nothing_to_sweep_asks_nobody() -> None:
    owners = Owners()
    report = await SweepOrphanObjects(MemoryStorage(), owners, FakeClock(), grace_s=60)()
    assert (report.looked_at, report.deleted, owners.asked) == (0, 0, [])
