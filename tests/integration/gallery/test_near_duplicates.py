"""Near-duplicates a page at a time: one bounded query per call, every group found once across pages."""

from __future__ import annotations

from uuid import UUID

from kartoteka.application.gallery.search_images import FindNearDuplicates
from tests.integration.gallery.conftest import Gallery
from tests.integration.gallery.test_gallery_api import photos


async def test_groups_come_a_page_at_a_time_and_each_once(gallery: Gallery) -> None:
    pictures = photos()
    twins = {}
    for name in ("coffee", "astronaut"):
        first = await gallery.upload(f"{name}.png", pictures[name], "a")
        second = await gallery.upload(f"{name}-copy.png", pictures[name], "b")
        twins[name] = sorted([first["id"], second["id"]])
    for name in ("rocket", "horse"):
        await gallery.upload(f"{name}.png", pictures[name])
    await gallery.indexed()
    expected = sorted(twins.values())

    whole = await gallery.client.get("/api/images/near-duplicates")
    assert whole.status_code == 200, whole.text
    assert sorted(sorted(g) for g in whole.json()["groups"]) == expected
    assert whole.json()["next_cursor"] is None

    # At most one group per page: the cursor leads to the other.
    first_page = (await gallery.client.get("/api/images/near-duplicates", params={"limit": 1})).json()
    assert len(first_page["groups"]) == 1
    assert first_page["next_cursor"]
    rest = await gallery.client.get("/api/images/near-duplicates", params={"cursor": first_page["next_cursor"]})
    assert sorted(sorted(g) for g in [*first_page["groups"], *rest.json()["groups"]]) == expected
    assert (await gallery.client.get("/api/images/near-duplicates", params={"cursor": "x"})).status_code == 422

    # Two images looked at per call: every group is still found, once.
    find = await gallery.app.state.dishka_container.get(FindNearDuplicates)
    found: list[list[str]] = []
    after: UUID | None = None
    calls = 0
    while True:
        page = await find(0.95, 100, after, scan=2)
        calls += 1
        found += [sorted(str(i) for i in group) for group in page.groups]
        if page.next_after is None:
            break
        after = page.next_after
    assert sorted(found) == expected
    assert calls >= 3  # six images, two at a time
