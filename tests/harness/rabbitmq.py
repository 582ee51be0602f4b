"""RabbitMQ from Debian's ``rabbitmq-server`` package, run as a plain foreground process.

The system service (systemd, ``/usr/sbin`` wrapper) is bypassed: it would share one node name,
data directory and fixed ports with every other run on the machine. Every location and port the
broker and Erlang use is redirected into the run's directory and a private port block instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from .network import LOOPBACK, free_port_block
from .process import (
    ManagedProcess,
    ServerStartError,
    port_accepts,
    register_cleanup,
    run_async,
    wait_for,
)

SERVER_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class RabbitMQServer:
    """Connection facts for a broker; ``url`` is what ``aio_pika.connect`` takes."""

    host: str
    port: int
    user: str
    password: str
    vhost: str
    url: str

    @classmethod
    def from_parts(
        cls, host: str, port: int, user: str = "guest", password: str = "guest", vhost: str = "/"
    ) -> RabbitMQServer:
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}"
        # The default vhost "/" is spelled as an empty path in AMQP URLs.
        path = "" if vhost == "/" else quote(vhost, safe="")
        url = f"amqp://{auth}@{host}:{port}/{path}"
        return cls(host=host, port=port, user=user, password=password, vhost=vhost, url=url)

    @classmethod
    def from_url(cls, url: str) -> RabbitMQServer:
        parts = urlsplit(url)
        if parts.scheme not in {"amqp", "amqps"}:
            raise ValueError(f"not an AMQP URL: {url!r}")
        server = cls.from_parts(
            host=parts.hostname or LOOPBACK,
            port=parts.port or (5671 if parts.scheme == "amqps" else 5672),
            user=unquote(parts.username or "guest"),
            password=unquote(parts.password or "guest"),
            vhost=unquote(parts.path[1:]) or "/",
        )
        return replace(server, url=url)  # keep query options (heartbeat, TLS) as given


def _epmd_binary() -> str:
    found = shutil.which("epmd") or next(iter(glob.glob("/usr/lib/erlang/erts-*/bin/epmd")), None)
    if found is None:
        raise ServerStartError("epmd not found; is the rabbitmq-server package installed?")
    return found


def _kill_epmd(epmd_port: int) -> None:
    """Stop the port mapper the broker spawned: it daemonises out of our process group.

    Failure is ignored because epmd may never have been started (the broker died early).
    """
    subprocess.run(
        [_epmd_binary(), "-port", str(epmd_port), "-kill"],
        check=False,
        capture_output=True,
        timeout=10,
    )


def _accepts_amqp_login(server: RabbitMQServer) -> bool:
    """A real AMQP handshake and login: the port opens before the broker finishes booting.

    The cheap port probe comes first because aio_pika logs an error for every refused attempt.
    """
    import aio_pika

    if not port_accepts(server.host, server.port):
        return False

    async def attempt() -> bool:
        connection = await aio_pika.connect(server.url, timeout=5)
        await connection.close()
        return True

    return run_async(attempt, timeout=10)


def _environment(workdir: Path, port: int) -> dict[str, str]:
    """Variables that move every file and port of the node into this run's private space."""
    home = workdir / "home"  # the Erlang cookie is written to $HOME
    home.mkdir(parents=True, exist_ok=True)
    plugins = workdir / "enabled_plugins"
    plugins.write_text("[].\n")
    conf_env = workdir / "rabbitmq-env.conf"
    conf_env.write_text("")
    config = workdir / "rabbitmq.conf"
    # The disk alarm threshold is lowered so a nearly full CI disk does not block publishers.
    config.write_text(f"listeners.tcp.default = {LOOPBACK}:{port}\ndisk_free_limit.absolute = 1MB\n")
    return {
        **os.environ,
        "HOME": str(home),
        "RABBITMQ_NODENAME": f"kartoteka-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(port + 1),
        "ERL_EPMD_PORT": str(port + 2),
        "ERL_EPMD_ADDRESS": LOOPBACK,
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
        "RABBITMQ_CONFIG_FILE": str(config),
        # Never created: keeps a developer's /etc/rabbitmq/advanced.config out of the test node.
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(conf_env),
        "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


@contextmanager
def running_rabbitmq(workdir: Path) -> Iterator[RabbitMQServer]:
    """Start a single-node broker with the default guest user (allowed on loopback only)."""
    if not SERVER_SCRIPT.is_file():
        raise ServerStartError(f"{SERVER_SCRIPT} not found: apt-get install rabbitmq-server")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port_block([0, 1, 2])
    env = _environment(workdir, port)
    kill_epmd = register_cleanup(lambda: _kill_epmd(port + 2))
    server = RabbitMQServer.from_parts(LOOPBACK, port)
    proc = ManagedProcess(
        "rabbitmq",
        [str(SERVER_SCRIPT)],
        log_path=workdir / "rabbitmq.out",
        env=env,
        cwd=workdir,  # Erlang writes crash dumps to its working directory
        stop_timeout=30,
        extra_logs=[workdir / "log" / f"{env['RABBITMQ_NODENAME']}.log"],
    )
    try:
        wait_for(
            lambda: _accepts_amqp_login(server),
            timeout=START_TIMEOUT,
            what="an AMQP login to succeed",
            interval=0.25,
            process=proc,
        )
        yield server
    finally:
        proc.stop()
        kill_epmd()
