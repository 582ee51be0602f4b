"""A world with the default admin in it."""

from __future__ import annotations

import pytest

from tests.unit.application.identity.world import World


@pytest.fixture
async def world() -> World:
    w = World()
    await w.default_admin()
    return w
