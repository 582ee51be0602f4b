"""``kartoteka watcher``: the index follows every configured gallery root until told to stop."""

from __future__ import annotations

import asyncio

from kartoteka.di import watcher_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.observability.metrics import start_metrics_server
from kartoteka.infrastructure.watcher.follow import WatchRoots


async def run_watcher(settings: Settings, stop: asyncio.Event) -> None:
    start_metrics_server(settings.metrics.host, settings.metrics.port, "watcher")
    container = watcher_container(settings)
    try:
        watch = await container.get(WatchRoots)
        await watch.run(stop)
    finally:
        await container.close()
