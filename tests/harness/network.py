"""Free loopback port picking: the production helpers, under the names the harness has always used.

Ports are probed by binding, the only reliable test on a shared machine (see
``kartoteka.infrastructure.embedded.network``). Tests always take a random free port, never the
embedded servers' fixed defaults, so they do not collide with a running ``kartoteka serve``.
"""

from __future__ import annotations

from kartoteka.infrastructure.embedded.network import LOOPBACK, free_port, free_port_block, is_port_free

__all__ = ["LOOPBACK", "free_port", "free_port_block", "is_port_free"]
