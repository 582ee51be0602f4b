"""Loopback port picking for the embedded servers.

Ports are probed by binding, the only reliable test on a shared machine. The small race between
probing and the server binding is accepted: a server that loses it exits at once, and start-up
fails with its log rather than silently talking to someone else's process.
"""

from __future__ import annotations

import ipaddress
import random
import socket
from collections.abc import Iterable

from kartoteka.infrastructure.embedded.process import ServerStartError

LOOPBACK = "127.0.0.1"


def connect_host(bind: str) -> str:
    """Where a client on this machine reaches a server bound to ``bind``: a wildcard (0.0.0.0) is not an
    address to connect to, so loopback stands in for it; a particular address is used as it is."""
    return LOOPBACK if ipaddress.ip_address(bind).is_unspecified else bind


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether ``port`` can be bound now; SO_REUSEADDR mirrors how servers bind after TIME_WAIT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(host: str, port: int) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel considers free right now (from the ephemeral range)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_block(offsets: Iterable[int], attempts: int = 200, host: str = LOOPBACK) -> int:
    """A base port ``p`` such that every ``p + offset`` is free.

    Some servers derive further ports from the one they are given (SeaweedFS adds 10000 for
    gRPC), so one free port is not enough. The block stays below Linux's ephemeral range
    (32768+), where outgoing connections could grab ports between our probe and the bind.
    """
    wanted = sorted(set(offsets))
    low, high = 10000 - wanted[0], 32000 - wanted[-1]
    rng = random.SystemRandom()
    for _ in range(attempts):
        base = rng.randint(low, high)
        if all(is_port_free(base + offset, host) for offset in wanted):
            return base
    raise ServerStartError(f"no free loopback port block with offsets {wanted} after {attempts} tries")


def choose_port(
    requested: int | None, default: int, offsets: Iterable[int] = (0,), *, what: str, host: str = LOOPBACK
) -> int:
    """The base port to run on: ``requested`` if given (it must be free), else ``default`` if free, else any.

    Nothing is remembered between runs: the default is free on a machine running one Kartoteka,
    which keeps the addresses stable, and clients get the actual port from the server object.
    """
    wanted = sorted(set(offsets))
    if requested is not None:
        if not 0 < requested + wanted[0] <= requested + wanted[-1] <= 65535:
            raise ServerStartError(f"{what}: port {requested} is out of range (it uses ports up to +{wanted[-1]})")
        busy = [requested + o for o in wanted if not is_port_free(requested + o, host)]
        if busy:
            raise ServerStartError(f"{what}: port {busy[0]} on {host} is already in use")
        return requested
    if all(is_port_free(default + o, host) for o in wanted):
        return default
    if wanted == [0]:
        return free_port(host)
    return free_port_block(wanted, host=host)
