"""The api's card workbench (``api.web_dir``, else the checkout's ``web/dist``) and its metrics recorder."""

from __future__ import annotations

from pathlib import Path

from dishka import Provider, Scope, from_context, provide

from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.observability.metrics import PrometheusHttpMetrics
from kartoteka.presentation.http.metrics import HttpMetrics, MetricsOptions
from kartoteka.presentation.http.web import CHECKOUT_BUILD, WebOptions


class WebProvider(Provider):
    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    def web_options(self, settings: Settings) -> WebOptions:
        """Synchronous on purpose: the app reads it with ``get_sync`` when it mounts the workbench."""
        configured = settings.api.web_dir
        return WebOptions(Path(configured).expanduser() if configured else CHECKOUT_BUILD)

    @provide
    def metrics_options(self, settings: Settings) -> MetricsOptions:
        return MetricsOptions(endpoint=settings.metrics.api_endpoint)

    @provide
    def http_metrics(self) -> HttpMetrics:
        """One recorder over the process's default Prometheus registry, however many apps a test builds."""
        return PrometheusHttpMetrics()
