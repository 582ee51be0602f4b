"""Errors the recognition domain and its use cases speak in.

They carry what a user needs to fix the input; the presentation layer maps
them to HTTP codes or CLI exit statuses.
"""

from __future__ import annotations


class RecognitionError(Exception):
    """Base of everything recognition refuses or fails at."""


class UnreadableImageError(RecognitionError):
    """The bytes are not an image we can decode (or the image is unusable)."""


class ModelUnavailableError(RecognitionError):
    """A configured model cannot be found or loaded; names the path or hub id."""


class RecognitionCancelledError(RecognitionError):
    """The job was cancelled between model batches."""
