"""``embedded.host``: the servers ``kartoteka serve`` starts listen on loopback unless asked otherwise, and
then on the address asked for, while this machine's own processes still reach them over loopback."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from kartoteka.infrastructure.config.settings import ConfigurationError, Settings, load_settings
from kartoteka.infrastructure.embedded.network import LOOPBACK, connect_host
from kartoteka.infrastructure.embedded.postgres import REMOTE_HBA_LINE, EmbeddedPostgres, allow_remote_clients
from kartoteka.infrastructure.embedded.valkey import EmbeddedValkey, answers_ping
from kartoteka.runtime.serve import ServeOptions, embedded_broker, embedded_stack

EVERYWHERE = "0.0.0.0"


def listening_on(port: int) -> set[str]:
    """The IPv4 addresses a TCP socket of this machine listens on at ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_loopback_by_default_and_an_ipv4_address_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().embedded.host == LOOPBACK
    monkeypatch.setenv("KARTOTEKA__EMBEDDED__HOST", EVERYWHERE)
    assert load_settings().embedded.host == EVERYWHERE
    monkeypatch.setenv("KARTOTEKA__EMBEDDED__HOST", "localhost")
    with pytest.raises(ConfigurationError, match="KARTOTEKA__EMBEDDED__HOST"):
        load_settings()


def test_serve_hands_the_setting_to_every_embedded_server(tmp_path: Path) -> None:
    settings = Settings.model_validate({"embedded": {"host": EVERYWHERE}})
    options = ServeOptions(data_dir=tmp_path, config=None)
    stack = embedded_stack(settings, options)
    broker = embedded_broker(settings, options)
    for server in (stack.postgres, stack.valkey, stack.s3, broker):
        assert (server.bind_host, server.host) == (EVERYWHERE, LOOPBACK), server.name
    environment = broker._environment(5672)
    assert environment["RABBITMQ_NODE_IP_ADDRESS"] == EVERYWHERE
    assert "listeners.tcp.default = 0.0.0.0:5672" in (broker.server_dir / "rabbitmq.conf").read_text()
    assert environment["ERL_EPMD_ADDRESS"] == LOOPBACK  # the Erlang distribution stays on loopback
    default = embedded_stack(Settings(), options)
    assert {s.bind_host for s in default.servers} == {LOOPBACK}
    assert connect_host("192.0.2.7") == "192.0.2.7"  # a particular address is also where clients go


def test_postgres_lets_remote_clients_in_with_the_password_once(tmp_path: Path) -> None:
    hba = tmp_path / "pg_hba.conf"
    hba.write_text("host all all 127.0.0.1/32 scram-sha-256\n")
    allow_remote_clients(hba)
    allow_remote_clients(hba)
    assert hba.read_text().splitlines() == ["host all all 127.0.0.1/32 scram-sha-256", REMOTE_HBA_LINE]


def test_a_server_asked_for_every_interface_listens_on_every_interface(tmp_path: Path) -> None:
    with EmbeddedValkey(tmp_path, persistent=False, host=EVERYWHERE) as valkey:
        assert listening_on(valkey.port) == {EVERYWHERE}
        assert valkey.url == f"redis://{LOOPBACK}:{valkey.port}/0"
        assert answers_ping(LOOPBACK, valkey.port)
    with EmbeddedValkey(tmp_path, persistent=False) as valkey:
        assert listening_on(valkey.port) == {LOOPBACK}


async def test_postgres_asked_for_every_interface_listens_there_and_takes_password_logins(tmp_path: Path) -> None:
    # As in the harness: under root the server runs as a system user, who cannot enter pytest's 0700 temp root.
    base = Path(tempfile.mkdtemp(prefix="kartoteka-pg-bind-")) if os.geteuid() == 0 else tmp_path
    base.chmod(0o711)
    try:
        with EmbeddedPostgres(base, host=EVERYWHERE, durable=False) as postgres:
            assert listening_on(postgres.port) == {EVERYWHERE}
            assert REMOTE_HBA_LINE in (postgres.server_dir / "pg_hba.conf").read_text()
            assert postgres.dsn.split("@")[1].startswith(f"{LOOPBACK}:")
            connection = await asyncpg.connect(postgres.dsn)
            try:
                assert await connection.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'vector'") == 1
            finally:
                await connection.close()
    finally:
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)
