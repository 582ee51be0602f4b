"""``kartoteka api``: the FastAPI app over uvicorn, with the server options the settings ask for.

``uvicorn_config`` is what the command runs and what the tests serve the app with, so a test of
forwarded addresses or WebSocket frame limits checks the server as it is deployed.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.ws import MAX_MESSAGE_BYTES


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """Proxy headers are read only from ``api.forwarded_allow_ips`` (none by default): uvicorn's own
    default trusts 127.0.0.1, which would let anyone on the host, or behind a local proxy that
    passes the header on, choose the address the login rate limits count against."""
    trusted = settings.api.forwarded_allow_ips
    options: dict[str, Any] = {
        "host": settings.api.host,
        "port": settings.api.port,
        "log_level": settings.logging.level.lower(),
        "log_config": None,  # the process's own logging (text or JSON) handles uvicorn's records too
        "ws_per_message_deflate": settings.api.ws_per_message_deflate,
        "ws_max_size": MAX_MESSAGE_BYTES,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


def run_api(settings: Settings) -> bool:
    """Serve until stopped (SIGINT, SIGTERM); False when the server could not start at all."""
    from kartoteka.di import api_container
    from kartoteka.presentation.http.app import create_app

    server = uvicorn.Server(uvicorn_config(create_app(api_container(settings)), settings))
    server.run()
    return server.started
