"""Renders ``.env.local.template`` from the settings model, so the two never drift apart.

Run ``python -m kartoteka.infrastructure.config.template > .env.local.template``
after adding a setting; a test fails while the file is out of date.
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
    print(render_env_template(), end="")
