"""The OpenAPI schema names every error a route can answer, with the body it has.

Every error body is JSON with ``error`` (``ErrorOut``, see ``errors.py``). A 422 is one of two:
the request failed validation (``HTTPValidationError``: ``detail`` lists the field errors as
OpenAPI's ``ValidationError`` objects, ``loc``, ``msg`` and ``type``), or it is understood but
asks for what cannot be done (an ``ErrorOut`` whose ``detail`` names the field or the file).

The statuses come from two places. Some hold for every route of a kind, and are added here:
500 (a bug, still JSON), 503 (a server the route needs is down; every route but ``/health``),
401 and 403 (a guarded route, when logins are on), 404 (a route naming a resource in its path),
422 (a route with parameters or a body), 413 (a route with a body: past ``api.max_request_bytes``),
400 (a route with a body: one that cannot be parsed at all, as JSON or as a form).
The rest are particular to a route (a rate limit, a conflict, an upload too large) and are listed
in ``PARTICULAR``, or in the route's own ``responses``. A test walks the routes and checks that
every status they answer is listed.
"""

from __future__ import annotations

import http
import re
from typing import Any

from fastapi import FastAPI

from kartoteka.presentation.http.access import required_role
from kartoteka.presentation.http.schemas import ErrorOut

REF = "#/components/schemas/"
UPLOAD = (400, 413, 415, 422)  # no usable file, too large, a kind not accepted, unreadable

# (methods, path template as the schema spells it, statuses) for what is particular to some routes.
PARTICULAR: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("POST", r"/api/auth/otp/start", (422, 429)),
    ("POST", r"/api/auth/otp/verify", (401, 403, 422, 429)),
    ("POST", r"/api/session/logout-everywhere", (401,)),
    ("GET", r"/api/users", (422,)),
    ("POST", r"/api/users", (400, 409, 422)),
    ("PUT", r"/api/users/\{user_id\}", (400, 409, 422)),
    ("DELETE", r"/api/users/\{user_id\}", (409,)),
    ("POST", r"/api/tokens", (422,)),
    ("POST", r"/task/submit", (*UPLOAD, 404, 409)),  # 404: an Idempotency-Key whose task was deleted
    ("GET POST PUT", r"/task/(|image|cancel|update_text)", (404, 422)),
    ("POST PUT", r"/task/(cancel|update_text)", (409,)),
    ("PUT", r"/task/update_text", (412,)),
    ("GET", r"/api/images", (422,)),
    ("POST", r"/api/images", (*UPLOAD, 409)),
    ("POST", r"/api/images/similarity-search", (*UPLOAD, 409)),
    ("POST", r"/api/images/search-by-image", (404, 409, 422)),
    ("POST", r"/api/images/search-by-text", (409, 422)),
    ("GET", r"/api/images/\{image_id\}/(thumbnail|view)", (304, 422)),
)

DESCRIPTIONS = {
    304: "Not Modified: the copy the client has (If-None-Match) is current",
    401: "Not logged in, or the session or token is no longer valid",
    403: "Logged in, but the role does not allow this",
    422: "The request is not valid: field errors (HTTPValidationError), or a value that cannot be used",
    500: "An unexpected error (a bug); the connection stays usable",
    503: "A server it depends on is unavailable; try again shortly",
}


def statuses_for(method: str, path: str, operation: dict[str, Any], auth_enabled: bool) -> set[int]:
    """The error statuses a route can answer, beyond its own ``responses``."""
    found = {500}
    if path != "/health":
        found.add(503)
    if auth_enabled and required_role(method, re.sub(r"\{[^}]+\}", "0", path)) is not None:
        found |= {401, 403}
    if "{" in path:
        found.add(404)
    if operation.get("parameters") or operation.get("requestBody"):
        found.add(422)
    if operation.get("requestBody"):
        found.add(413)  # a body past api.max_request_bytes (RequestBodyLimit), on every route that takes one
        found.add(400)  # a body FastAPI cannot parse (broken JSON, a broken multipart form)
    for methods, pattern, statuses in PARTICULAR:
        if method in methods.split() and re.fullmatch(pattern, path):
            found.update(statuses)
    return found


def _error_schemas(components: dict[str, Any]) -> None:
    components.setdefault("ErrorOut", ErrorOut.model_json_schema(ref_template=REF + "{model}"))
    components.setdefault(
        "ValidationError",
        {
            "title": "ValidationError",
            "type": "object",
            "properties": {
                "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                "msg": {"type": "string"},
                "type": {"type": "string"},
            },
            "required": ["loc", "msg", "type"],
        },
    )
    validation = components.setdefault("HTTPValidationError", {"title": "HTTPValidationError", "type": "object"})
    properties = validation.setdefault("properties", {})
    properties.setdefault("detail", {"type": "array", "items": {"$ref": REF + "ValidationError"}})
    properties["error"] = {"title": "Error", "type": "string", "description": "What went wrong, for people."}
    validation["required"] = sorted({*validation.get("required", ()), "error", "detail"})


def _response(status: int) -> dict[str, Any]:
    if status == 304:
        return {"description": DESCRIPTIONS[304]}
    schema: dict[str, Any] = {"$ref": REF + "ErrorOut"}
    if status == 422:
        schema = {"anyOf": [{"$ref": REF + "HTTPValidationError"}, {"$ref": REF + "ErrorOut"}]}
    description = DESCRIPTIONS.get(status) or http.HTTPStatus(status).phrase
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _declared(responses: dict[str, Any]) -> set[int]:
    return {int(code) for code in responses if code.isdigit() and int(code) == 422}


def add_error_responses(schema: dict[str, Any], auth_enabled: bool) -> dict[str, Any]:
    _error_schemas(schema.setdefault("components", {}).setdefault("schemas", {}))
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            for status in sorted(statuses_for(method.upper(), path, operation, auth_enabled) | _declared(responses)):
                declared = responses.get(str(status))
                if declared is None:
                    responses[str(status)] = _response(status)
                elif status == 422:  # either kind of 422, whatever the route declared
                    declared.setdefault("content", {})["application/json"] = _response(422)["content"][
                        "application/json"
                    ]
    return schema


def document_errors(app: FastAPI, auth_enabled: bool) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json`` and ``/docs``) list every route's errors."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_error_responses(build(), auth_enabled)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
