"""``kartoteka serve``: the whole service on one machine, from one command.

Servers that are not configured are started embedded (PostgreSQL+pgvector,
Valkey, S3) under a data directory that persists between runs; the schema is
migrated; then api, relay and worker run as child processes pointed at those
servers. Jobs go through RabbitMQ: the configured ``broker.url``, else Debian's
``rabbitmq-server`` started under the data directory when it is installed; with
neither, through TaskIQ's Redis list broker. Ctrl-C or SIGTERM stops the children first, then
the servers; a child that dies takes the others down with it, loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.migrate import upgrade
from kartoteka.infrastructure.embedded.rabbitmq import EmbeddedRabbitMQ, rabbitmq_installed
from kartoteka.infrastructure.embedded.stack import EmbeddedStack

log = logging.getLogger(__name__)

# name → command line; the recognition and embedding workers are separate processes (separate models).
CHILDREN: dict[str, tuple[str, ...]] = {
    "api": ("api",),
    "relay": ("relay",),
    "worker": ("worker", "--queues", "recognition"),
    "embedder": ("worker", "--queues", "embedding"),
    "watcher": ("watcher",),
}

# The api holds many short-lived connections. Python's small-object allocator keeps partly used
# arenas after a crowd of WebSockets has gone, so RSS stays at its high-water mark; with the system
# allocator the heap is trimmed back (presentation/http/memory.py) to near where it started.
API_ENVIRONMENT = {"PYTHONMALLOC": "malloc"}


@dataclass(frozen=True)
class ServeOptions:
    data_dir: Path
    config: str | None
    worker: bool = True
    rabbitmq: bool = True
    watch: tuple[Path, ...] = ()


def embedded_needed(settings: Settings) -> bool:
    """Embedded servers replace only what the configuration leaves at its defaults."""
    return not (
        "url" in settings.database.model_fields_set
        or "url" in settings.redis.model_fields_set
        or "endpoint" in settings.s3.model_fields_set
    )


def embedded_broker_needed(settings: Settings, options: ServeOptions) -> bool:
    return options.rabbitmq and settings.broker.url is None and rabbitmq_installed()


def embedded_stack(settings: Settings, options: ServeOptions) -> EmbeddedStack:
    """On ``embedded.host``: loopback unless the configuration asks for another address."""
    return EmbeddedStack(options.data_dir, host=settings.embedded.host)


def embedded_broker(settings: Settings, options: ServeOptions) -> EmbeddedRabbitMQ:
    return EmbeddedRabbitMQ(options.data_dir, host=settings.embedded.host)


async def run_serve(settings: Settings, options: ServeOptions, stop: asyncio.Event) -> int:
    env = dict(os.environ)
    stack: EmbeddedStack | None = None
    broker: EmbeddedRabbitMQ | None = None
    starting_broker: asyncio.Task[None] | None = None
    database_url = settings.database.url
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        if embedded_broker_needed(settings, options):
            broker = embedded_broker(settings, options)
            print(f"starting RabbitMQ (rabbitmq-server) in {options.data_dir} ...", flush=True)
            starting_broker = asyncio.create_task(asyncio.to_thread(broker.start))
        if embedded_needed(settings):
            stack = embedded_stack(settings, options)
            print(f"starting embedded PostgreSQL, Valkey and S3 in {options.data_dir} ...", flush=True)
            endpoints = await stack.start()
            database_url = endpoints.database_url
            env.update(
                {
                    "KARTOTEKA__DATABASE__URL": endpoints.database_url,
                    "KARTOTEKA__REDIS__URL": endpoints.redis_url,
                    "KARTOTEKA__S3__ENDPOINT": endpoints.s3_endpoint,
                    "KARTOTEKA__S3__ACCESS_KEY": endpoints.s3_access_key,
                    "KARTOTEKA__S3__SECRET_KEY": endpoints.s3_secret_key,
                    "KARTOTEKA__S3__REGION": endpoints.s3_region,
                }
            )
        if broker is not None and starting_broker is not None:
            await starting_broker
            env["KARTOTEKA__BROKER__URL"] = broker.url
        await asyncio.to_thread(upgrade, database_url)
        base = [sys.executable, "-m", "kartoteka.entrypoint"]
        if options.config:
            base += ["--config", options.config]
        roots = [root.model_dump(mode="json") for root in settings.gallery.roots]
        roots += [{"path": str(path)} for path in options.watch]
        if options.watch:
            env["KARTOTEKA__GALLERY__ROOTS"] = json.dumps(roots)
        for name, command in CHILDREN.items():
            if name in {"worker", "embedder"} and not options.worker:
                continue
            if name == "watcher" and not roots:
                continue
            # Popen only forks and execs; nothing here waits on the child.
            child_env = {**env, **API_ENVIRONMENT} if name == "api" else env
            children[name] = subprocess.Popen([*base, *command], env=child_env, start_new_session=True)  # noqa: ASYNC220
        jobs = "RabbitMQ" if broker is not None or settings.broker.url else "the Redis list broker"
        if roots:
            print(f"gallery: indexing and watching {', '.join(str(r['path']) for r in roots)}", flush=True)
        print(
            f"Kartoteka is at http://{settings.api.host}:{settings.api.port} "
            f"(docs at /docs; data in {options.data_dir if stack else 'the configured servers'}; jobs through {jobs}); "
            "Ctrl-C stops it",
            flush=True,
        )
        return await _supervise(children, stop)
    finally:
        await asyncio.to_thread(_stop_children, children)
        if stack is not None:
            await stack.stop()
        if broker is not None and starting_broker is not None:
            await asyncio.wait([starting_broker])  # a start still under way finishes before the stop
            await asyncio.shield(asyncio.to_thread(broker.stop))


async def _supervise(children: dict[str, subprocess.Popen[bytes]], stop: asyncio.Event) -> int:
    while not stop.is_set():
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                print(f"kartoteka serve: {name} exited with {code}; stopping everything", file=sys.stderr, flush=True)
                return code or 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)
    return 0


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    for name, child in children.items():
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in 30 s; killing it", name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
