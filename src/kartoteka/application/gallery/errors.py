"""Why a gallery request cannot be answered, in words a client can act on."""

from __future__ import annotations

from kartoteka.domain.errors import ErrorKind, Refusal


class IndexNotReadyError(Refusal):
    """No model has a complete index yet, so there is nothing to search (the first indexing runs)."""

    kind = ErrorKind.UNAVAILABLE


class ImageNotEmbeddedError(Refusal):
    """The image exists but has no vector in the searched model (still queued, or it failed)."""

    kind = ErrorKind.CONFLICT


class QueryNotUsableError(Refusal):
    """The query image could not be embedded (not an image, too large, ...)."""


class EncoderUnavailableError(Refusal):
    """No worker answered the query in time, or none can load the model the index was built with."""

    kind = ErrorKind.UNAVAILABLE


class TextSearchUnavailableError(Refusal):
    """The searched model has no text tower."""
