"""Models that cannot be had: a start-up error of whichever process needs them."""

from __future__ import annotations


class ModelUnavailableError(Exception):
    """A configured model cannot be found or loaded; names the path or hub id."""
