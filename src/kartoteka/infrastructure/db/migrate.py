"""Running Alembic from Kartoteka (``kartoteka migrate``, tests, ``serve``).

The migrations ship inside the package (``kartoteka/infrastructure/db/migrations``), and the
Alembic configuration is built here in code, so an installed wheel migrates with no
``alembic.ini`` and no checkout. The root ``alembic.ini`` is only for developers running the
``alembic`` command line from a checkout.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config

from kartoteka.infrastructure.db.extensions import check_extensions

_PACKAGE = "kartoteka.infrastructure.db"


def script_location() -> Path:
    """The directory holding ``env.py``, ``script.py.mako`` and ``versions/``."""
    location = resources.files(_PACKAGE) / "migrations"
    if not isinstance(location, Path):
        # Alembic reads the scripts from a real directory; a zipped install has none.
        raise RuntimeError(f"Kartoteka's migrations are not in a directory on disk: {location}")
    return location


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    # For `alembic revision` run through this config; "%%" is ConfigParser's escape of "%".
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["url"] = url
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Blocking: call from a thread when an event loop is running (env.py runs its own loop).

    The server's extensions are checked first, so a database without pgvector (or a user who may not
    create it) stops here with a message saying what to install (``DatabaseExtensionError``), not
    halfway through a migration."""
    asyncio.run(check_extensions(url))
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
