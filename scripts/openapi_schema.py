"""Print the api's OpenAPI schema, as ``/openapi.json`` serves it, with no server running.

The workbench's typed client is generated from it (``web/openapi.json`` -> ``web/src/api/schema.d.ts``),
so the schema is taken with logins on: that mode has every route the workbench may call.

    .venv/bin/python scripts/openapi_schema.py > web/openapi.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from kartoteka.di import api_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.app import create_app


def schema() -> dict[str, Any]:
    settings = Settings.model_validate({"auth": {"kind": "otp", "secret_key": "schema-only-" + "x" * 40}})
    # Building the app connects to nothing: the container makes its servers' clients on first use.
    return create_app(api_container(settings)).openapi()


def render() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
