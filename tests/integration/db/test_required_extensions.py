"""An external PostgreSQL without an extension the schema needs, or a user who may not create it, stops
``kartoteka migrate`` with a message naming the extension and what to install: checked against the
harness's real PostgreSQL, with a database and a role made for the purpose."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from kartoteka.infrastructure.db.extensions import REQUIRED_EXTENSIONS, DatabaseExtensionError, check_extensions
from tests.harness.postgres import PostgresServer

KARTOTEKA = str(Path(sys.executable).with_name("kartoteka"))


async def test_a_migrated_database_has_everything(migrated_database: str) -> None:
    await check_extensions(migrated_database)


async def test_an_extension_the_server_lacks_is_named_with_how_to_install_it(migrated_database: str) -> None:
    with pytest.raises(DatabaseExtensionError) as raised:
        await check_extensions(migrated_database, (*REQUIRED_EXTENSIONS, "kartoteka_no_such_extension"))
    message = str(raised.value)
    assert "'kartoteka_no_such_extension' is not available" in message
    assert "'vector'" not in message  # those two are there
    assert "'pg_trgm'" not in message
    assert "install it on the database server" in message


@pytest.fixture
async def limited_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A new database without the extensions, and a role that may connect and create tables in it but is
    no superuser: pgvector is not a trusted extension, so this role cannot create it."""
    name, role, password = f"t_ext_{uuid.uuid4().hex[:8]}", f"limited_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = await asyncpg.connect(postgres_server.dsn)
    try:
        await admin.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        await admin.execute(f'CREATE DATABASE "{name}" OWNER "{role}"')
        yield f"postgresql+asyncpg://{role}:{password}@{postgres_server.host}:{postgres_server.port}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


async def test_an_extension_the_user_may_not_create_is_named(limited_url: str) -> None:
    with pytest.raises(DatabaseExtensionError) as raised:
        await check_extensions(limited_url)
    message = str(raised.value)
    assert "the extension 'vector' cannot be created by this user" in message
    assert 'CREATE EXTENSION "vector"' in message
    assert "pg_trgm" not in message  # a trusted extension: the database's owner may create it


def test_migrate_stops_with_the_message_and_no_traceback(limited_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARTOTEKA__")}
    env["KARTOTEKA__DATABASE__URL"] = limited_url
    done = subprocess.run([KARTOTEKA, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 3, done.stderr
    assert "cannot hold Kartoteka's schema" in done.stderr
    assert "the extension 'vector' cannot be created by this user" in done.stderr
    assert "Traceback" not in done.stderr
    assert limited_url.split("@")[0].split(":")[-1] not in done.stderr  # the password is not shown
