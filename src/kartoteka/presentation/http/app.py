"""The FastAPI application: routers, error mapping, and the dishka container's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dishka import AsyncContainer
from dishka.integrations.fastapi import setup_dishka
from fastapi import FastAPI

from kartoteka.application.recognition.submit_cards import UploadLimits
from kartoteka.presentation.http import (
    auth,
    batches,
    gallery,
    gallery_sse,
    health,
    legacy,
    recognition,
    transcript_search,
    transcripts,
    users,
    web,
    ws,
)
from kartoteka.presentation.http.access import AccessControl, check_every_route_has_a_rule
from kartoteka.presentation.http.body_limit import RequestBodyLimit
from kartoteka.presentation.http.errors import UnexpectedErrors, install_error_handlers
from kartoteka.presentation.http.methods import HttpMethods
from kartoteka.presentation.http.metrics import HttpMetrics, MetricsOptions, RequestMetrics, install_metrics
from kartoteka.presentation.http.openapi import document_errors


def create_app(container: AsyncContainer) -> FastAPI:
    # Which routes exist depends on the auth mode, so it is known before the app is built.
    auth_options = container.get_sync(auth.AuthOptions)
    web_options = container.get_sync(web.WebOptions)
    max_request_bytes = container.get_sync(UploadLimits).max_request_bytes
    metrics = container.get_sync(HttpMetrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with auth.identity_lifespan(container, auth_options):
            yield
        await container.close()

    app = FastAPI(
        title="Kartoteka",
        summary="Recognition and retrieval for archives of handwritten dialectological word cards.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    auth.install_identity(app, auth_options)
    if auth_options.enabled:
        app.include_router(users.router)
        app.include_router(users.tokens_router)
    app.include_router(health.router)
    app.include_router(recognition.router)
    app.include_router(transcripts.router)
    app.include_router(batches.router)
    app.include_router(transcript_search.router)
    app.include_router(legacy.router)
    app.include_router(ws.router)
    app.include_router(gallery.router)
    app.include_router(gallery_sse.router)
    install_metrics(app, metrics, container.get_sync(MetricsOptions))
    web.install_workbench(app, web_options)  # last: its paths are named, never a catch-all
    check_every_route_has_a_rule(app)  # a route without a rule stops start-up, never runs open
    document_errors(app, auth_options.enabled)
    # The last added runs first: requests are counted around everything, unexpected errors are caught
    # around the rest, HEAD is a GET
    # before the access rules see it.
    app.add_middleware(AccessControl)
    app.add_middleware(HttpMethods)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(RequestBodyLimit, max_bytes=max_request_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: every answer counts, a 500 too
    setup_dishka(container, app)
    return app
