"""Why a gallery request cannot be answered, in words a client can act on."""

from __future__ import annotations


class IndexNotReadyError(Exception):
    """No model has a complete index yet, so there is nothing to search (the first indexing runs)."""


class ImageNotEmbeddedError(Exception):
    """The image exists but has no vector in the searched model (still queued, or it failed)."""


class QueryNotUsableError(Exception):
    """The query image could not be embedded (not an image, too large, ...)."""


class EncoderUnavailableError(Exception):
    """No worker answered the query in time, or none can load the model the index was built with."""


class TextSearchUnavailableError(Exception):
    """The searched model has no text tower."""
