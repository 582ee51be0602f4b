"""``web/openapi.json`` is the api's schema: the workbench's typed client is generated from it, so a route
or a shape that changes without it would break the page instead of the build.

Regenerate with ``make web-schema`` (the schema, then ``web/src/api/schema.d.ts``; ``npm run check:api``
in ``make web-check`` fails when the types lag behind the schema).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def test_the_committed_schema_is_the_apis() -> None:
    spec = importlib.util.spec_from_file_location("openapi_schema", ROOT / "scripts" / "openapi_schema.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "web" / "openapi.json").read_text(encoding="utf-8")
    assert committed == module.render(), "web/openapi.json is stale: run `make web-schema` and commit the result"
