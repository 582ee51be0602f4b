"""The deployment files agree with the code: the settings model, the command line, and each other."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kartoteka.infrastructure.config.settings import Settings, iter_variables
from kartoteka.infrastructure.config.template import DOCKER_VALUES, SERVER_VALUES, render_docker_env_template
from kartoteka.presentation.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[2]
DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def compose(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return loaded


def interpolated(value: str) -> str:
    """What compose substitutes when no variable is set: each ${NAME:-default} becomes its default."""
    return DEFAULTED.sub(lambda m: m.group(2), value)


def test_docker_env_template_is_up_to_date() -> None:
    # Regenerate with: python -m kartoteka.infrastructure.config.template docker > .env.docker.template
    assert (ROOT / ".env.docker.template").read_text(encoding="utf-8") == render_docker_env_template()


def test_the_docker_values_are_settings_and_load() -> None:
    names = {name for name, _, _ in iter_variables()}
    assert set(DOCKER_VALUES) <= names
    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as env:
        for name, value in DOCKER_VALUES.items():
            env.setenv(name, value)
        settings = Settings()
    assert settings.database.url.endswith("@postgres:5432/kartoteka")
    assert [str(root.path) for root in settings.gallery.roots] == ["/gallery"]


def test_compose_sets_what_the_template_says_with_the_same_defaults() -> None:
    environment = compose("compose.yaml")["x-kartoteka-environment"]
    kartoteka = {k: interpolated(str(v)) for k, v in environment.items() if k.startswith("KARTOTEKA__")}
    assert kartoteka == DOCKER_VALUES
    servers = compose("compose.yaml")["services"]
    assert interpolated(servers["postgres"]["environment"]["POSTGRES_PASSWORD"]) == SERVER_VALUES["POSTGRES_PASSWORD"]
    assert interpolated(servers["minio"]["environment"]["MINIO_ROOT_PASSWORD"]) == SERVER_VALUES["MINIO_ROOT_PASSWORD"]


def test_every_service_runs_a_command_the_cli_has() -> None:
    parser = build_parser()
    for name, service in compose("compose.yaml")["services"].items():
        if "<<" in service or service.get("image", "").startswith("${KARTOTEKA_IMAGE"):
            parser.parse_args(service["command"])  # exits (fails the test) on an unknown command or option
        else:
            assert "image" in service, name


def test_only_the_api_publishes_a_port_and_infra_binds_to_loopback() -> None:
    services = compose("compose.yaml")["services"]
    assert [name for name, s in services.items() if s.get("ports")] == ["api", "prometheus"]
    assert all(str(p).startswith("127.0.0.1:") for p in services["prometheus"]["ports"])  # its UI has no login
    for name, service in compose("compose-infra.yaml")["services"].items():
        assert all(str(p).startswith("127.0.0.1:") for p in service["ports"]), name
