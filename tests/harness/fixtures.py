"""Session-scoped pytest fixtures for the real servers.

Use from a conftest with ``from tests.harness.fixtures import *`` (or list this module in the
root conftest's ``pytest_plugins``). A server starts the first time a test asks for it and
stops at the end of the session, so a run that needs only Redis never pays for RabbitMQ.

Each fixture can point at an already running server instead, through environment variables
(for CI services or a developer's own stack); then nothing is started or stopped:

* ``KARTOTEKA_TEST_DATABASE_URL`` - PostgreSQL URL (``postgresql+asyncpg://`` or ``postgresql://``)
* ``KARTOTEKA_TEST_AMQP_URL`` - ``amqp://user:password@host:port/vhost``
* ``KARTOTEKA_TEST_REDIS_URL`` - ``redis://host:port/db``
* ``KARTOTEKA_TEST_S3_ENDPOINT`` with ``KARTOTEKA_TEST_S3_ACCESS_KEY`` and
  ``KARTOTEKA_TEST_S3_SECRET_KEY`` (optionally ``KARTOTEKA_TEST_S3_REGION``)
* ``KARTOTEKA_TEST_SMTP_HOST`` with optional ``KARTOTEKA_TEST_SMTP_PORT`` (default 25); the
  messages sent to it cannot be observed, so tests that use ``smtp_inbox`` are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .postgres import PostgresServer, running_postgres
from .rabbitmq import RabbitMQServer, running_rabbitmq
from .redis import RedisServer, running_redis
from .s3 import REGION, S3Server, running_s3
from .smtp import Inbox, SmtpServer, running_smtp

__all__ = [
    "postgres_server",
    "rabbitmq_server",
    "redis_server",
    "s3_server",
    "smtp_inbox",
    "smtp_server",
]


def _env(name: str) -> str | None:
    """An override variable; empty counts as unset so ``VAR=`` can disable an override."""
    return os.environ.get(name) or None


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    url = _env("KARTOTEKA_TEST_DATABASE_URL")
    if url:
        yield PostgresServer.from_url(url)
        return
    with running_postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture(scope="session")
def rabbitmq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQServer]:
    url = _env("KARTOTEKA_TEST_AMQP_URL")
    if url:
        yield RabbitMQServer.from_url(url)
        return
    with running_rabbitmq(tmp_path_factory.mktemp("rabbitmq")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    url = _env("KARTOTEKA_TEST_REDIS_URL")
    if url:
        yield RedisServer.from_url(url)
        return
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    endpoint = _env("KARTOTEKA_TEST_S3_ENDPOINT")
    if endpoint:
        access_key = _env("KARTOTEKA_TEST_S3_ACCESS_KEY")
        secret_key = _env("KARTOTEKA_TEST_S3_SECRET_KEY")
        if not (access_key and secret_key):
            raise pytest.UsageError(
                "KARTOTEKA_TEST_S3_ENDPOINT needs KARTOTEKA_TEST_S3_ACCESS_KEY and KARTOTEKA_TEST_S3_SECRET_KEY"
            )
        region = _env("KARTOTEKA_TEST_S3_REGION") or REGION
        yield S3Server.from_endpoint(endpoint, access_key, secret_key, region)
        return
    with running_s3(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    host = _env("KARTOTEKA_TEST_SMTP_HOST")
    if host:
        yield SmtpServer(host=host, port=int(_env("KARTOTEKA_TEST_SMTP_PORT") or 25))
        return
    with running_smtp() as server:
        yield server


@pytest.fixture
def smtp_inbox(smtp_server: SmtpServer) -> Inbox:
    """The recorded messages; skips the test when SMTP is an external, unobservable server."""
    if smtp_server.inbox is None:
        pytest.skip(
            f"KARTOTEKA_TEST_SMTP_HOST points at an external server ({smtp_server.host}:"
            f"{smtp_server.port}); the messages it receives cannot be inspected"
        )
    return smtp_server.inbox
