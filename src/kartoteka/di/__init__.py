"""Composition root: the only package that knows both the ports and their adapters.

One container per process kind, each made of the providers that process needs:

- ``servers``: PostgreSQL, Redis, S3, the clock and ids, units of work (every process);
- ``recognition``: the models, the worker's ProcessCard, the api's recognition use cases;
- ``gallery``: the image store, the api's search and uploads, the embedding worker, the watcher;
- ``identity``: logins, sessions, users, tokens (api);
- ``messaging``: the outbox relay's publishers, the api's live fan-out, readiness checks;
- ``worker``: a worker's brokers with its tasks registered;
- ``web``: where the api finds the built card workbench.

Models load when a container is first asked for them, so a missing model stops a worker (or the
CLI) at start-up with a message naming it instead of failing the first job.
"""

from __future__ import annotations

from collections.abc import Sequence

from dishka import AsyncContainer, Provider, make_async_container

from kartoteka.di.gallery import EmbeddingWorkerProvider, GalleryApiProvider, GalleryStoreProvider, WatcherProvider
from kartoteka.di.identity import IdentityProvider
from kartoteka.di.messaging import LiveProvider, ReadinessProvider, RelayProvider
from kartoteka.di.recognition import (
    CardRecognition,
    GroundTruthProvider,
    RecognitionApiProvider,
    RecognitionModelsProvider,
    RecognitionWorkerProvider,
)
from kartoteka.di.servers import ServersProvider
from kartoteka.di.web import WebProvider
from kartoteka.di.worker import ConsumerBrokers, WorkerBrokersProvider, WorkerQueues
from kartoteka.infrastructure.config.settings import Settings

__all__ = [
    "CardRecognition",
    "ConsumerBrokers",
    "WorkerQueues",
    "api_container",
    "corrections_container",
    "evaluation_container",
    "recognition_container",
    "relay_container",
    "watcher_container",
    "worker_container",
]


def api_container(settings: Settings, *overrides: Provider) -> AsyncContainer:
    """``overrides`` replace what the providers before them provide (tests: a clock they move)."""
    from dishka.integrations.fastapi import FastapiProvider

    return make_async_container(
        ServersProvider(),
        RecognitionApiProvider(),
        GalleryStoreProvider(),
        GalleryApiProvider(),
        IdentityProvider(),
        LiveProvider(),
        ReadinessProvider(),
        WebProvider(),
        FastapiProvider(),
        *overrides,
        context={Settings: settings},
    )


def worker_container(settings: Settings, queues: Sequence[str], *overrides: Provider) -> AsyncContainer:
    from dishka.integrations.taskiq import TaskiqProvider

    return make_async_container(
        ServersProvider(),
        RecognitionModelsProvider(),
        RecognitionWorkerProvider(),
        GalleryStoreProvider(),
        EmbeddingWorkerProvider(),
        WorkerBrokersProvider(),
        TaskiqProvider(),
        *overrides,
        context={Settings: settings, WorkerQueues: WorkerQueues(tuple(queues))},
    )


def relay_container(settings: Settings, *overrides: Provider) -> AsyncContainer:
    return make_async_container(ServersProvider(), RelayProvider(), *overrides, context={Settings: settings})


def watcher_container(settings: Settings, *overrides: Provider) -> AsyncContainer:
    return make_async_container(ServersProvider(), WatcherProvider(), *overrides, context={Settings: settings})


def evaluation_container(settings: Settings) -> AsyncContainer:
    """The pipeline with the database and storage that hold the linguists' corrections."""
    return make_async_container(
        ServersProvider(), RecognitionModelsProvider(), GroundTruthProvider(), context={Settings: settings}
    )


def corrections_container(settings: Settings) -> AsyncContainer:
    """The corrected cards alone, no models (``kartoteka dataset export --from-corrections``)."""
    return make_async_container(ServersProvider(), GroundTruthProvider(), context={Settings: settings})


def recognition_container(settings: Settings) -> AsyncContainer:
    """The pipeline alone (``kartoteka recognize``): models, no servers."""
    return make_async_container(RecognitionModelsProvider(), context={Settings: settings})
