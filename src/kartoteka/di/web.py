"""The api's card workbench: where its build is (``api.web_dir``, else the checkout's ``web/dist``)."""

from __future__ import annotations

from pathlib import Path

from dishka import Provider, Scope, from_context, provide

from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.web import CHECKOUT_BUILD, WebOptions


class WebProvider(Provider):
    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    def web_options(self, settings: Settings) -> WebOptions:
        """Synchronous on purpose: the app reads it with ``get_sync`` when it mounts the workbench."""
        configured = settings.api.web_dir
        return WebOptions(Path(configured).expanduser() if configured else CHECKOUT_BUILD)
