"""Checking JSON bodies against the app's own OpenAPI schema, offline and without a schema library.

Only what FastAPI and Kartoteka's schemas use is understood: ``$ref`` into the components,
``anyOf``/``oneOf``/``allOf``, ``type`` (one or a list), ``enum``/``const``, ``properties``,
``required``, ``items`` and ``additionalProperties``. A keyword it does not know is ignored,
so the check can only be too lenient there, never wrong about what it does check.
"""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "integer": (int,),
    "number": (int, float),
}


def _is(value: Any, kind: str) -> bool:
    if kind in {"integer", "number"} and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def violations(value: Any, schema: dict[str, Any], spec: dict[str, Any], at: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (refs resolved in ``spec``); empty when it conforms."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return violations(value, spec["components"]["schemas"][name], spec, at)
    found: list[str] = []
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        if all(violations(value, option, spec, at) for option in options):
            found.append(f"{at}: matches none of {len(options)} alternatives")
    for part in schema.get("allOf", []):
        found += violations(value, part, spec, at)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, kind) for kind in kinds):
            return [*found, f"{at}: {type(value).__name__} is not {' or '.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{at}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        found.append(f"{at}: {value!r} is not {schema['const']!r}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{at}: {name!r} is missing")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                found += violations(item, properties[name], spec, f"{at}.{name}")
            elif extra is False:
                found.append(f"{at}: {name!r} is not allowed")
            elif isinstance(extra, dict):
                found += violations(item, extra, spec, f"{at}.{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += violations(item, schema["items"], spec, f"{at}[{index}]")
    return found


def operation_for(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The schema's operation answering ``method path`` (a slash twin answers as its plain path)."""
    candidates = [path, path.rstrip("/") or "/", path + "/"]
    for candidate in candidates:  # a literal path wins over a template it also matches
        if method.lower() in spec["paths"].get(candidate, {}):
            exact: dict[str, Any] = spec["paths"][candidate][method.lower()]
            return exact
    for template, item in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if any(re.fullmatch(pattern, candidate) for candidate in candidates) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return operation
    return None
