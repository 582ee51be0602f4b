"""Why a recognition request was refused; the HTTP layer maps each kind to a status code."""

from __future__ import annotations

import enum


class RejectionKind(enum.StrEnum):
    EMPTY_REQUEST = "empty_request"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    UNREADABLE = "unreadable"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_MANY_FILES = "too_many_files"


class UploadRejectedError(Exception):
    """One file of a submission is unusable; nothing of the submission was stored."""

    def __init__(self, filename: str | None, kind: RejectionKind, reason: str) -> None:
        where = f"{filename}: " if filename else ""
        super().__init__(where + reason)
        self.filename = filename
        self.kind = kind
        self.reason = reason


class UnsupportedImageError(Exception):
    """Decodable, but not one of the accepted card formats."""
