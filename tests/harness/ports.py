"""Free loopback port picking.

Ports are probed by binding, which is the only reliable test on a shared machine; the small
race between probing and the server binding is accepted because a server that loses it fails
loudly at start-up rather than silently talking to someone else's process.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable

LOOPBACK = "127.0.0.1"


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether ``port`` can be bound now; SO_REUSEADDR mirrors how servers bind after TIME_WAIT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel considers free right now (ephemeral range)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_block(offsets: Iterable[int], attempts: int = 200) -> int:
    """A base port ``p`` such that every ``p + offset`` is free.

    Some servers derive further ports from the one they are given (SeaweedFS adds 10000 for
    gRPC, RabbitMQ needs distribution and epmd ports), so a single free port is not enough.
    The whole block is kept below Linux's ephemeral range (32768+), where outgoing connections
    would otherwise grab ports between our probe and the server's bind.
    """
    wanted = sorted(set(offsets))
    low, high = 10000 - wanted[0], 32000 - wanted[-1]
    rng = random.SystemRandom()
    for _ in range(attempts):
        base = rng.randint(low, high)
        if all(is_port_free(base + offset) for offset in wanted):
            return base
    raise RuntimeError(f"no free loopback port block with offsets {wanted} after {attempts} tries")
