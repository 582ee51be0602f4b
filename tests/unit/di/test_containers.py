"""Each process's container can build everything its routes and tasks ask for.

dishka validates a container's graph when it is made, but not the ``FromDishka[...]`` parameters
of the routes and tasks that will ask it later: a dependency nobody provides would only fail on
the first request that needs it. Here every such parameter is collected from the presentation
modules and a probe factory depending on all of them is added, so a missing factory fails the
container's own validation, with no server running.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from dishka import AsyncContainer, Provider, Scope

from kartoteka.di import api_container, relay_container, watcher_container, worker_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.messaging.relay import OutboxRelay
from kartoteka.infrastructure.watcher.follow import WatchRoots
from kartoteka.presentation import http, worker

_REQUESTED = re.compile(r"FromDishka\[([^\]]+\]?)\]")


def _modules(package: ModuleType) -> list[ModuleType]:
    return [importlib.import_module(f"{package.__name__}.{m.name}") for m in pkgutil.iter_modules(package.__path__)]


def requested_types(package: ModuleType) -> set[Any]:
    found: set[Any] = set()
    for module in _modules(package):
        source = inspect.getsource(module)
        for expression in _REQUESTED.findall(source):
            found.add(eval(expression, vars(module)))  # names as the module itself resolves them
    return found


class Probe:
    pass


def probe_of(types: set[Any]) -> Provider:
    """A provider of ``Probe`` that needs every one of ``types``: validation fails if one is missing."""

    def probe(**_: Any) -> Probe:
        return Probe()

    names = {f"dependency_{i}": t for i, t in enumerate(sorted(types, key=repr))}
    probe.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=t) for n, t in names.items()],
        return_annotation=Probe,
    )
    probe.__annotations__ = {**names, "return": Probe}
    provider = Provider(scope=Scope.REQUEST)
    provider.provide(probe)
    return provider


def test_the_presentation_asks_for_something() -> None:
    assert len(requested_types(http)) > 30
    assert len(requested_types(worker)) >= 4


def test_the_api_container_provides_what_every_route_asks_for() -> None:
    api_container(Settings(), probe_of(requested_types(http)))


def test_a_worker_container_provides_what_every_task_asks_for() -> None:
    worker_container(Settings(), ["recognition", "embedding"], probe_of(requested_types(worker)))


@pytest.mark.parametrize(("build", "service"), [(relay_container, OutboxRelay), (watcher_container, WatchRoots)])
def test_a_process_container_provides_its_service(build: Callable[..., AsyncContainer], service: type) -> None:
    build(Settings(), probe_of({service}))


def test_a_missing_dependency_is_caught() -> None:
    class Unprovided:
        pass

    with pytest.raises(Exception, match="Unprovided"):
        api_container(Settings(), probe_of({Unprovided}))
