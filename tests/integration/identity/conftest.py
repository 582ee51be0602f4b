"""An api app in OTP mode on the harness's PostgreSQL, Redis and SMTP, with a clock tests can move.

The app's lifespan runs (default admin, housekeeping) as it does under uvicorn. Each test gets a
client address of its own, so the per-address rate limits of one test never touch another's.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from dishka import Provider, Scope, provide
from fastapi import FastAPI

from kartoteka.application.shared.clock import Clock
from kartoteka.di import api_container
from kartoteka.infrastructure.clock import utc_now
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.app import create_app
from tests.fakes.shared import FakeClock
from tests.harness.redis import RedisServer
from tests.harness.smtp import SmtpServer

ROOT = "root@example.org"
SECRET = "test-secret-" + "k" * 40
_addresses = itertools.count(1)


class ClockProvider(Provider):
    """Replaces the system clock of the api container."""

    scope = Scope.APP

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._clock = clock

    @provide
    def clock(self) -> Clock:
        return self._clock


def otp_settings(database_url: str, redis: RedisServer, smtp: SmtpServer, **auth: Any) -> Settings:
    values: dict[str, Any] = {
        "kind": "otp",
        "secret_key": SECRET,
        "default_user_email": ROOT,
        "max_attempts": 3,
        "start_limit_per_email": 100,  # the flood test sets its own, stricter limits
        "start_limit_per_address": 100,
        "verify_limit_per_address": 50,
        "rate_window_s": 600,
        "otp_ttl_s": 300,
        "session_ttl_s": 3600,
        "smtp": {"host": smtp.host, "port": smtp.port, "tls": "none", "from_address": "codes@kartoteka.example"},
    }
    values.update(auth)
    return Settings.model_validate({"database": {"url": database_url}, "redis": {"url": redis.url}, "auth": values})


def new_client_address() -> str:
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


class Api:
    """A running app and what tests need around it: clients, the clock, the mail it sent."""

    def __init__(self, app: FastAPI, clock: FakeClock, smtp: SmtpServer, settings: Settings) -> None:
        self.app = app
        self.clock = clock
        self.smtp = smtp
        self.settings = settings
        self.address = new_client_address()

    def client(self, address: str | None = None) -> httpx.AsyncClient:
        """A browser: it keeps its cookies. HTTPS, so Secure cookies are sent back as a browser would."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False, client=(address or self.address, 5))
        return httpx.AsyncClient(transport=transport, base_url="https://kartoteka")

    def code_for(self, email: str) -> str:
        return self.code_in(self.smtp, email)

    @staticmethod
    def code_in(smtp: SmtpServer, email: str) -> str:
        """The code in the latest mail to ``email``: the server has it before the api answers, because
        the api waits for the server to accept the message."""
        mails = [m for m in smtp.messages if email in m.rcpt_tos]
        assert mails, f"no mail to {email}"
        found = re.search(r"Your OTP code is: (\S+)", mails[-1].message.get_content())
        assert found is not None
        return found.group(1)

    def mails_to(self, email: str) -> int:
        return sum(email in m.rcpt_tos for m in self.smtp.messages)

    async def login(self, client: httpx.AsyncClient, email: str) -> dict[str, Any]:
        started = await client.post("/api/auth/otp/start", json={"email": email})
        assert started.status_code == 200, started.text
        verified = await client.post("/api/auth/otp/verify", json={"code": self.code_for(email)})
        assert verified.status_code == 200, verified.text
        return dict(verified.json())


async def running_api(settings: Settings, smtp: SmtpServer) -> AsyncIterator[Api]:
    clock = FakeClock(utc_now())
    app = create_app(api_container(settings, ClockProvider(clock)))
    async with app.router.lifespan_context(app):
        yield Api(app, clock, smtp, settings)


@pytest.fixture
def settings(migrated_database: str, redis_server: RedisServer, smtp_server: SmtpServer) -> Settings:
    return otp_settings(migrated_database, redis_server, smtp_server)


@pytest.fixture
async def api(settings: Settings, smtp_server: SmtpServer) -> AsyncIterator[Api]:
    async for running in running_api(settings, smtp_server):
        yield running
