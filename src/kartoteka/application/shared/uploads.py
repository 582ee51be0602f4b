"""Refusing an upload: which file, which page, and why; nothing of a refused request is stored.

Card submissions and gallery uploads refuse files alike.
"""

from __future__ import annotations

import enum

from kartoteka.domain.errors import ErrorKind, Refusal


class RejectionKind(enum.StrEnum):
    EMPTY_REQUEST = "empty_request"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    UNREADABLE = "unreadable"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_MANY_FILES = "too_many_files"
    TOO_MANY_PAGES = "too_many_pages"
    INVALID_NAME = "invalid_name"


_REJECTION_KINDS = {
    RejectionKind.EMPTY_REQUEST: ErrorKind.MALFORMED,
    RejectionKind.TOO_MANY_FILES: ErrorKind.TOO_LARGE,
    RejectionKind.TOO_LARGE: ErrorKind.TOO_LARGE,
    RejectionKind.TOO_MANY_PIXELS: ErrorKind.TOO_LARGE,
    RejectionKind.TOO_MANY_PAGES: ErrorKind.TOO_LARGE,
    RejectionKind.UNSUPPORTED_TYPE: ErrorKind.UNSUPPORTED,
    RejectionKind.UNREADABLE: ErrorKind.INVALID,
    RejectionKind.INVALID_NAME: ErrorKind.INVALID,
}


class UploadRejectedError(Refusal):
    """One file of a submission is unusable; nothing of the submission was stored."""

    def __init__(self, filename: str | None, kind: RejectionKind, reason: str, page: int | None = None) -> None:
        where = f"{filename}: " if filename else ""
        on_page = f"page {page}: " if page is not None else ""
        super().__init__(
            where + on_page + reason,
            {"file": filename, "page": page, "kind": kind.value, "reason": reason},
            kind=_REJECTION_KINDS[kind],
        )
        self.filename = filename
        self.rejection = kind
        self.reason = reason
        self.page = page
