"""Refusals: what Kartoteka will not do for a request, and the kind of reason.

Every error a client can cause or should be told about derives from ``Refusal``
and names its ``kind``; each adapter that faces a client (HTTP, the CLI) maps
kinds to its own answers in one table, so a new error needs no new handler and
every context (recognition, gallery, identity) answers alike. ``str(error)``
says what happened in full, for logs; ``message`` is what the client is told
(usually the same), and ``detail`` the machine-readable particulars.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the request is understood, but what it asks for cannot be done as asked
    MALFORMED = "malformed"  # the request itself is broken: empty, unparseable, a bad cursor
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # the current state does not allow it (a race, a duplicate, a transition)
    UNAUTHENTICATED = "unauthenticated"  # who is asking is not known
    REFUSED = "refused"  # who is asking is known, and may not
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"  # a kind of content that is not accepted
    PRECONDITION_FAILED = "precondition_failed"  # made against a version that is no longer current
    PRECONDITION_REQUIRED = "precondition_required"  # a change that must say which version it was made against
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"  # something Kartoteka depends on cannot serve now; try again later


UNAVAILABLE_MESSAGE = "a service Kartoteka depends on is unavailable; try again shortly"


class Refusal(Exception):
    """Base of every refusal; subclasses set ``kind`` (or pass one per instance) and may override
    ``message`` and ``detail``."""

    kind: ErrorKind = ErrorKind.INVALID

    def __init__(self, message: str, detail: object = None, *, kind: ErrorKind | None = None) -> None:
        super().__init__(message)
        self._detail = detail
        if kind is not None:
            self.kind = kind

    @property
    def message(self) -> str:
        return str(self)

    @property
    def detail(self) -> object:
        return self._detail
