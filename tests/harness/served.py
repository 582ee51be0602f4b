"""The api app served by a real uvicorn in the test's event loop, configured as ``kartoteka api`` runs it.

``kartoteka.runtime.api.uvicorn_config`` gives the server options (proxy headers, WebSocket
limits), so what a test sees over the socket is what a deployment answers. The listening socket
is bound before the server starts: connections wait in its backlog until uvicorn serves them, so
nothing has to poll for the server to be up.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from kartoteka.infrastructure.config.settings import Settings
from kartoteka.runtime.api import uvicorn_config


@asynccontextmanager
async def served(app: Any, settings: Settings, **options: Any) -> AsyncIterator[uvicorn.Server]:
    """``server.config.host``/``port`` say where; ``options`` override the server options."""
    listening = socket.create_server(("127.0.0.1", 0))
    port = int(listening.getsockname()[1])
    options = {"log_level": "warning", **options}
    server = uvicorn.Server(uvicorn_config(app, settings, host="127.0.0.1", port=port, **options))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=30)
        listening.close()


def base_url(server: uvicorn.Server, scheme: str = "http") -> str:
    return f"{scheme}://{server.config.host}:{server.config.port}"
