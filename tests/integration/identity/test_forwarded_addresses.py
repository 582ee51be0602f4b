"""X-Forwarded-For counts only from a configured proxy: the per-address login limit cannot be dodged.

Through a real uvicorn, configured as ``kartoteka api`` runs it. The client connects from
127.0.0.1, which uvicorn itself would trust by default; here no proxy is trusted unless
``api.forwarded_allow_ips`` names it.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from kartoteka.di import api_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.app import create_app
from tests.harness.served import base_url, served
from tests.integration.identity.test_users_api import new_email

PER_ADDRESS = 2
_forged = itertools.count(1)


def limited(settings: Settings, **api: Any) -> Settings:
    auth = settings.auth.model_copy(update={"start_limit_per_address": PER_ADDRESS, "cookie_secure": False})
    return settings.model_copy(update={"auth": auth, "api": settings.api.model_copy(update=api)})


async def starts(settings: Settings, forwarded_for: list[str]) -> list[int]:
    """The status of one login start per given X-Forwarded-For, each for a new email address."""
    app = create_app(api_container(settings))
    async with served(app, settings) as server, httpx.AsyncClient(base_url=base_url(server)) as client:
        statuses = []
        for address in forwarded_for:
            response = await client.post(
                "/api/auth/otp/start", json={"email": new_email()}, headers={"X-Forwarded-For": address}
            )
            statuses.append(response.status_code)
        return statuses


def forged(count: int) -> list[str]:
    return [f"198.51.100.{next(_forged) % 250 + 1}" for _ in range(count)]


async def test_forwarded_addresses_from_loopback_are_ignored_by_default(settings: Settings) -> None:
    assert settings.api.forwarded_allow_ips == ""
    statuses = await starts(limited(settings), forged(PER_ADDRESS + 1))
    assert statuses == [200] * PER_ADDRESS + [429]  # every forged address counted as 127.0.0.1


async def test_forwarded_addresses_count_from_a_configured_proxy(settings: Settings) -> None:
    trusted = limited(settings, forwarded_allow_ips="127.0.0.1")
    assert await starts(trusted, forged(PER_ADDRESS + 1)) == [200] * (PER_ADDRESS + 1)  # one client each
    same = forged(1) * (PER_ADDRESS + 1)
    assert await starts(trusted, same) == [200] * PER_ADDRESS + [429]  # and each client has its own limit
