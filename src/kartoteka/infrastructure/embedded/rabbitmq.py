"""RabbitMQ from Debian's ``rabbitmq-server`` package, for ``kartoteka serve`` when it is installed.

The package's system service would share one node name, one data directory and fixed ports with
everything else on the machine, so the broker is run as a plain foreground process instead, with
every file under ``<data_dir>/rabbitmq`` (durable queues survive restarts) and its ports, Erlang
distribution and port mapper (epmd) included, on loopback. The port mapper daemonises itself out
of our process group, so it is stopped explicitly.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path

from kartoteka.infrastructure.embedded.base import EmbeddedServer
from kartoteka.infrastructure.embedded.network import LOOPBACK, choose_port, connect_host
from kartoteka.infrastructure.embedded.process import ServerStartError, wait_until

SERVER_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
DEFAULT_PORT = 56720  # AMQP; +1 Erlang distribution, +2 epmd
START_TIMEOUT = 120.0


def rabbitmq_installed() -> bool:
    return SERVER_SCRIPT.is_file()


def _epmd() -> str | None:
    return shutil.which("epmd") or next(iter(glob.glob("/usr/lib/erlang/erts-*/bin/epmd")), None)


def answers_amqp(host: str, port: int) -> bool:
    """The broker's AMQP greeting: the port may open before the broker has finished booting.

    Sending the protocol header makes a booted broker answer with Connection.Start (a method frame,
    type 1); anything else, or nothing, means not yet.
    """
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            return sock.recv(1)[:1] == b"\x01"
    except OSError:
        return False


class EmbeddedRabbitMQ(EmbeddedServer):
    """A single-node broker with the default ``guest`` user, which RabbitMQ allows on loopback only."""

    name = "rabbitmq"
    stop_timeout = 60.0

    def __init__(
        self,
        data_dir: Path | str,
        port: int | None = None,
        *,
        start_timeout: float = START_TIMEOUT,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(data_dir)
        # AMQP only: the Erlang distribution and epmd stay on loopback whatever the bind.
        self.bind_host = host
        self.host = connect_host(host)
        self.start_timeout = start_timeout
        self._requested_port = port
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the embedded RabbitMQ has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/"

    def _start(self) -> None:
        if not rabbitmq_installed():
            raise ServerStartError(
                f"{SERVER_SCRIPT} not found: apt-get install rabbitmq-server, or configure broker.url"
            )
        self._port = choose_port(self._requested_port, DEFAULT_PORT, (0, 1, 2), what="RabbitMQ", host=self.bind_host)
        self._stop_epmd()  # one left by a run that was killed would hold the port
        env = self._environment(self._port)
        process = self._spawn([str(SERVER_SCRIPT)], env=env, cwd=self.server_dir)
        wait_until(
            lambda: answers_amqp(self.host, self.port),
            timeout=self.start_timeout,
            what="the AMQP greeting",
            interval=0.25,
            process=process,
        )

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self._port is not None:
                self._stop_epmd()

    def _stop_epmd(self) -> None:
        epmd = _epmd()
        if epmd is None or self._port is None:
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([epmd, "-port", str(self._port + 2), "-kill"], check=False, capture_output=True, timeout=10)

    def _environment(self, port: int) -> dict[str, str]:
        base = self.server_dir
        home = base / "home"  # Erlang writes its cookie to $HOME
        home.mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")
        # A nearly full disk must not block publishers of a development machine.
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {self.bind_host}:{port}\ndisk_free_limit.absolute = 50MB\n"
        )
        return {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_NODENAME": "kartoteka@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": self.bind_host,
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(port + 1),
            "ERL_EPMD_PORT": str(port + 2),
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),  # never created
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
