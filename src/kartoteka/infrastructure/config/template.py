"""Renders ``.env.local.template`` and ``.env.docker.template`` from the settings model, so none drifts.

Run ``python -m kartoteka.infrastructure.config.template > .env.local.template`` and
``python -m kartoteka.infrastructure.config.template docker > .env.docker.template``
after adding a setting; a test fails while either file is out of date.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python

from kartoteka.infrastructure.config.settings import CONFIG_PATH_VARIABLE, ENV_DELIMITER, iter_variables

HEADER = """\
# Kartoteka settings as environment variables: copy to .env.local, uncomment what you change, and load it
# into the environment (`set -a; . ./.env.local; set +a`, or env_file in docker compose).
# Every KARTOTEKA__SECTION__KEY variable overrides the YAML file given by --config or KARTOTEKA_CONFIG.
# Values shown are the defaults; `null` unsets an optional value.
"""


DOCKER_HEADER = """\
# Kartoteka settings for docker compose: copy to .env.docker (compose.yaml reads it if it is there) and
# change what your deployment needs. The uncommented lines are what compose.yaml already sets for its own
# services (the names postgres, redis, rabbitmq and minio on the compose network); everything else shows its
# default. Change the passwords and keys before exposing anything: the same values go into the servers'
# own variables at the end of this file.
"""

#: What the containers of compose.yaml need instead of the loopback defaults.
DOCKER_VALUES = {
    "KARTOTEKA__API__HOST": "0.0.0.0",  # inside a container, behind compose's published port
    "KARTOTEKA__DATABASE__URL": "postgresql+asyncpg://kartoteka:kartoteka@postgres:5432/kartoteka",
    "KARTOTEKA__S3__ENDPOINT": "minio:9000",
    "KARTOTEKA__S3__ACCESS_KEY": "kartoteka",
    "KARTOTEKA__S3__SECRET_KEY": "kartoteka-secret",
    "KARTOTEKA__REDIS__URL": "redis://redis:6379/0",
    "KARTOTEKA__BROKER__URL": "amqp://kartoteka:kartoteka@rabbitmq:5672/",
    "KARTOTEKA__INFERENCE__DEVICE": "auto",
    "KARTOTEKA__GALLERY__ROOTS": '[{"path": "/gallery", "name": "gallery"}]',
    # Metrics ports for compose's Prometheus (profile metrics), inside the compose network only.
    "KARTOTEKA__METRICS__HOST": "0.0.0.0",
    "KARTOTEKA__METRICS__PORT": "9400",
}
#: The service images' own variables, which must agree with the values above.
SERVER_VALUES = {
    "POSTGRES_USER": "kartoteka",
    "POSTGRES_PASSWORD": "kartoteka",
    "POSTGRES_DB": "kartoteka",
    "RABBITMQ_DEFAULT_USER": "kartoteka",
    "RABBITMQ_DEFAULT_PASS": "kartoteka",
    "MINIO_ROOT_USER": "kartoteka",
    "MINIO_ROOT_PASSWORD": "kartoteka-secret",
    "KARTOTEKA_API_PORT": "8000",
}


def render_docker_env_template() -> str:
    lines = [DOCKER_HEADER]
    section = None
    for name, default, description in iter_variables():
        current = ".".join(name.split(ENV_DELIMITER)[1:-1]).lower()
        if current != section:
            lines += ["", f"# --- {current} ---"]
            section = current
        if description:
            lines.append(f"# {description}")
        if name in DOCKER_VALUES:
            lines.append(f"{name}={DOCKER_VALUES[name]}")
        else:
            lines.append(f"# {name}={_show(default)}")
    lines += ["", "# --- the servers' own settings (compose.yaml) ---"]
    lines += [f"{name}={value}" for name, value in SERVER_VALUES.items()]
    return "\n".join(lines) + "\n"


def render_env_template() -> str:
    lines = [HEADER, f"# {CONFIG_PATH_VARIABLE}=./kartoteka.yaml"]
    section = None
    for name, default, description in iter_variables():
        current = ".".join(name.split(ENV_DELIMITER)[1:-1]).lower()
        if current != section:
            lines += ["", f"# --- {current} ---"]
            section = current
        if description:
            lines.append(f"# {description}")
        lines.append(f"# {name}={_show(default)}")
    return "\n".join(lines) + "\n"


def _show(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()  # a development default, meant to be replaced
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list | tuple | BaseModel):
        return json.dumps(to_jsonable_python(value), ensure_ascii=False)  # how pydantic-settings reads them
    return str(value)


if __name__ == "__main__":
    import sys

    print(render_docker_env_template() if sys.argv[1:] == ["docker"] else render_env_template(), end="")
