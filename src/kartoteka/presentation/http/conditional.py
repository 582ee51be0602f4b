"""Revisions as HTTP entity tags, and file names for downloads.

A transcript's revision number is its entity tag: ``ETag: "3"`` on reads,
``If-Match: "3"`` on corrections. A missing ``If-Match`` on a correction is
428 (the client must say what it edited), a stale one 412.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import HTTPException

from kartoteka.presentation.http.errors import MissingPreconditionError


def etag(revision: int) -> str:
    return f'"{revision}"'


def expected_revision(if_match: str | None) -> int | None:
    """The revision an ``If-Match`` header names; None for ``*`` (whatever is current)."""
    if if_match is None or not if_match.strip():
        raise MissingPreconditionError(
            'send If-Match with the revision you edited (the ETag of GET .../transcript, e.g. If-Match: "0")'
        )
    value = if_match.strip()
    if value == "*":
        return None
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"').strip()
    if not value.isdigit() or not value.isascii():
        raise HTTPException(400, f'If-Match must name one revision, like "3"; got {if_match!r}')
    return int(value)


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the real (often Cyrillic) one in RFC 5987 form."""
    fallback = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
