"""Schemathesis against the served api's own ``/openapi.json``, with no logins and with OTP logins.

The real app runs under uvicorn on the harness's PostgreSQL, Valkey and S3, beside the relay and an
embedding worker (so the gallery has an index, and a search is answered rather than a 503), with a
few images in the gallery. ``schemathesis run`` (the CLI, in a subprocess) generates valid and
invalid requests for every operation and runs every check it has on the answers: no 5xx, every
status, header and body as documented, invalid input refused, valid input accepted, a 405 with the
right ``Allow``, no route answering without the credential it asks for. With OTP the run holds an
admin API token, made after the real login, so it reaches every route.

``schemathesis.toml`` beside this file lists the few refusals of valid-looking input that the schema
cannot express, each with its reason. The run is bounded: a fixed number of examples per operation,
a fixed seed, no example database or cache carried between runs, so it takes the same path each time.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kartoteka.di import api_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.app import create_app
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.harness.served import base_url, served
from tests.harness.smtp import SmtpServer
from tests.integration.gallery.conftest import Gallery, empty_gallery, gallery_processes, gallery_settings, searchable
from tests.integration.gallery.test_gallery_api import photos
from tests.integration.identity.conftest import ROOT, SECRET, Api

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 10
SEED = 20261203
RUN_TIMEOUT_S = 420

# /api/fs/events is a server-sent event stream that never ends: every request to it would run
# into the request timeout, and there is no response body to check against a schema.
EXCLUDED_PATHS = r"^/api/fs/events/?$"


def schemathesis_command(base: str, report: Path, headers: dict[str, str]) -> list[str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        f"--config-file={CONFIG}",
        "run",
        f"{base}/openapi.json",
        "--checks=all",
        f"--max-examples={EXAMPLES_PER_OPERATION}",
        f"--seed={SEED}",
        "--generation-database=none",
        "--workers=1",
        "--request-timeout=20",
        f"--exclude-path-regex={EXCLUDED_PATHS}",
        "--no-color",
        "--continue-on-failure",
        "--report=junit",
        f"--report-dir={report}",
    ]
    for name, value in headers.items():
        command.append(f"--header={name}: {value}")
    return command


async def run_schemathesis(base: str, report: Path, headers: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *schemathesis_command(base, report, headers),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # all it printed reaches us, even if it is killed
        cwd=report,  # nothing of the run (a .hypothesis folder, reports) lands in the checkout
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        pytest.fail(f"schemathesis ran past {RUN_TIMEOUT_S} s:\n{output.decode(errors='replace')[-20000:]}")
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace"), time.monotonic() - started


def otp_auth(smtp: SmtpServer) -> dict[str, Any]:
    smtp_options = {"host": smtp.host, "port": smtp.port, "tls": "none", "from_address": "f@kartoteka.example"}
    # Every generated login comes from 127.0.0.1: the per-address limits would answer 429 to most of them.
    limits = {"start_limit_per_address": 100_000, "verify_limit_per_address": 100_000}
    # Served over plain HTTP on the loopback, as a deployment behind no TLS sets it: the login's cookies
    # must come back to the server for the admin to log in and make the token.
    plain = {"cookie_secure": False}
    return {"kind": "otp", "secret_key": SECRET, "default_user_email": ROOT, "smtp": smtp_options, **limits, **plain}


@pytest.fixture(params=["none", "otp"])
def fuzzed_settings(
    request: pytest.FixtureRequest,
    migrated_database: str,
    s3_server: S3Server,
    redis_server: RedisServer,
    smtp_server: SmtpServer,
) -> Settings:
    auth = otp_auth(smtp_server) if request.param == "otp" else {}
    return gallery_settings(migrated_database, s3_server, redis_server, auth=auth, api={"max_files": 10})


@dataclass
class Fuzzed:
    base: str
    headers: dict[str, str]  # what every request sends: the admin's token, with logins on


@pytest.fixture
async def fuzzed_api(
    fuzzed_settings: Settings, migrated_database: str, smtp_server: SmtpServer
) -> AsyncIterator[Fuzzed]:
    """The api under uvicorn, with the relay and an embedding worker so the gallery has an index to
    search (with none, every search is a 503), and a few images in it for searches to find."""
    await empty_gallery(migrated_database)
    container = api_container(fuzzed_settings)
    app = create_app(container)
    try:
        async with gallery_processes(fuzzed_settings) as tasks, served(app, fuzzed_settings) as server:
            base = base_url(server)
            headers = {}
            if fuzzed_settings.auth.kind == "otp":
                headers["Authorization"] = f"Bearer {await admin_token(base, smtp_server)}"
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
                await searchable(client, tasks)
                gallery = Gallery(client, fuzzed_settings, app)
                for name, data in sorted(photos().items())[:3]:
                    await gallery.upload(f"{name}.png", data)
                await gallery.indexed()
            yield Fuzzed(base, headers)
    finally:
        await container.close()


async def admin_token(base: str, smtp: SmtpServer) -> str:
    """An admin API token, made by the default admin after the real OTP login."""
    async with httpx.AsyncClient(base_url=base) as browser:
        started = await browser.post("/api/auth/otp/start", json={"email": ROOT})
        assert started.status_code == 200, started.text
        verified = await browser.post("/api/auth/otp/verify", json={"code": Api.code_in(smtp, ROOT)})
        assert verified.status_code == 200, verified.text
        issued = await browser.post("/api/tokens", json={"name": "schemathesis", "role": "admin"})
        assert issued.status_code == 201, issued.text
        return str(issued.json()["token"])


async def test_schemathesis_finds_nothing(fuzzed_api: Fuzzed, fuzzed_settings: Settings, tmp_path: Path) -> None:
    code, output, took = await run_schemathesis(fuzzed_api.base, tmp_path, fuzzed_api.headers)
    print(f"schemathesis ({fuzzed_settings.auth.kind}) took {took:.0f} s")
    print(output[-6000:])
    assert code == 0, output[-30000:]
