"""The one table from refusal kinds to HTTP answers."""

from __future__ import annotations

import json
from uuid import UUID

import pytest

from kartoteka.application.identity.errors import RateLimitedError
from kartoteka.application.shared.database import DatabaseUnavailableError
from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.recognition.revisions import StaleRevisionError
from kartoteka.presentation.http.errors import STATUS, ShapedRefusal, refusal_response


def body(exc: Refusal) -> tuple[int, dict[str, object], dict[str, str]]:
    response = refusal_response(exc)
    return response.status_code, json.loads(bytes(response.body)), dict(response.headers)


def test_every_kind_has_a_status() -> None:
    assert set(STATUS) == set(ErrorKind)
    assert all(400 <= status < 600 for status in STATUS.values())


@pytest.mark.parametrize(
    ("kind", "status"),
    [(ErrorKind.NOT_FOUND, 404), (ErrorKind.CONFLICT, 409), (ErrorKind.INVALID, 422), (ErrorKind.UNAVAILABLE, 503)],
)
def test_a_refusal_answers_with_its_kinds_status_message_and_detail(kind: ErrorKind, status: int) -> None:
    code, payload, _ = body(Refusal("no such thing", {"id": 7}, kind=kind))
    assert (code, payload) == (status, {"error": "no such thing", "detail": {"id": 7}})


def test_an_unreachable_server_is_told_in_general_and_named_in_the_detail() -> None:
    code, payload, _ = body(DatabaseUnavailableError("connection refused"))
    assert code == 503
    assert payload == {
        "error": "a service Kartoteka depends on is unavailable; try again shortly",
        "detail": "connection refused",
    }


def test_a_stale_revision_carries_the_current_etag() -> None:
    code, payload, headers = body(StaleRevisionError(UUID(int=1), expected=2, current=3))
    assert code == 412
    assert headers["etag"] == '"3"'
    assert payload["detail"] == {"task_id": str(UUID(int=1)), "expected_revision": 2, "current_revision": 3}


def test_a_rate_limit_says_when_to_come_back() -> None:
    code, payload, headers = body(RateLimitedError(42))
    assert (code, headers["retry-after"], payload["detail"]) == (429, "42", {"retry_after_s": 42})


def test_a_shaped_refusal_keeps_the_contracts_fields() -> None:
    class Shaped(ShapedRefusal):
        kind = ErrorKind.MALFORMED

    code, payload, _ = body(Shaped("Empty file.", {"status": "error", "message": "Empty file."}))
    assert (code, payload) == (400, {"error": "Empty file.", "status": "error", "message": "Empty file."})
