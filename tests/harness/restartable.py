"""Servers of a test's own, which it may stop and start again: outages on purpose.

The session-wide servers (``fixtures.py``) are shared by every test, so no test may stop them.
A test that needs an outage starts its own with these, on a fixed free port, so that after a
``stop()`` the next ``start()`` serves the same address with the same data, and clients that
were configured before the outage simply find it back. Each is the production embedded server
(``kartoteka.infrastructure.embedded``), as the shared ones are.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kartoteka.infrastructure.embedded.base import EmbeddedServer
from kartoteka.infrastructure.embedded.postgres import EmbeddedPostgres
from kartoteka.infrastructure.embedded.rabbitmq import EmbeddedRabbitMQ, rabbitmq_installed
from kartoteka.infrastructure.embedded.s3 import PORT_OFFSETS, REGION, EmbeddedS3
from kartoteka.infrastructure.embedded.valkey import EmbeddedValkey

from .network import LOOPBACK, free_port, free_port_block
from .postgres import DATABASE, SUPERUSER, PostgresServer
from .process import register_cleanup
from .rabbitmq import RabbitMQServer
from .redis import RedisServer, redis_binary
from .s3 import S3Server

__all__ = ["Restartable", "own_postgres", "own_rabbitmq", "own_redis", "own_s3", "rabbitmq_installed"]


class Restartable:
    """One server process that can be stopped and started again on the same port."""

    def __init__(self, server: EmbeddedServer) -> None:
        self.server = server

    @property
    def running(self) -> bool:
        return self.server.running

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        if not self.server.running:
            self.server.start()

    @contextmanager
    def down(self) -> Iterator[None]:
        """Stopped for the body of the ``with``; running again after it, whatever happened inside."""
        self.stop()
        try:
            yield
        finally:
            self.start()


@contextmanager
def _running(server: EmbeddedServer) -> Iterator[Restartable]:
    stop = register_cleanup(server.stop)
    try:
        server.start()
        yield Restartable(server)
    finally:
        stop()


@contextmanager
def own_postgres(workdir: Path) -> Iterator[tuple[Restartable, PostgresServer]]:
    """PostgreSQL with the test database (pgvector included); see ``running_postgres`` for the root case."""
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # the server runs as a system user, who cannot enter pytest's 0700 temp root
        base = Path(tempfile.mkdtemp(prefix="kartoteka-pg-"))
        base.chmod(0o711)
    else:
        base = Path(tempfile.mkdtemp(prefix="pg-", dir=workdir))
    remove_base = register_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))
    server = EmbeddedPostgres(base, free_port(), database=DATABASE, durable=False)
    try:
        with _running(server) as handle:
            yield handle, PostgresServer.from_parts(LOOPBACK, server.port, SUPERUSER, server.password, DATABASE)
    finally:
        remove_base()


@contextmanager
def own_redis(workdir: Path) -> Iterator[tuple[Restartable, RedisServer]]:
    server = EmbeddedValkey(workdir, free_port(), binary=redis_binary(), persistent=False)
    with _running(server) as handle:
        yield handle, RedisServer(host=LOOPBACK, port=server.port, db=server.db, url=server.url)


@contextmanager
def own_s3(workdir: Path) -> Iterator[tuple[Restartable, S3Server]]:
    """``weed mini``: its data (buckets, objects) survive a restart, as a real store's would."""
    server = EmbeddedS3(workdir, free_port_block(PORT_OFFSETS), region=REGION)
    with _running(server) as handle:
        yield (
            handle,
            S3Server(
                endpoint=server.endpoint,
                host=server.host,
                port=server.port,
                access_key=server.access_key,
                secret_key=server.secret_key,
                region=server.region,
                secure=server.secure,
                url=server.url,
            ),
        )


@contextmanager
def own_rabbitmq(workdir: Path) -> Iterator[tuple[Restartable, RabbitMQServer]]:
    """Needs Debian's ``rabbitmq-server`` (check ``rabbitmq_installed()`` first)."""
    server = EmbeddedRabbitMQ(workdir, free_port_block([0, 1, 2]))
    with _running(server) as handle:
        yield handle, RabbitMQServer.from_parts(LOOPBACK, server.port)
