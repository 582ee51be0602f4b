"""The one database failure every context shares: it cannot be reached right now."""

from __future__ import annotations


class DatabaseUnavailableError(Exception):
    """The database cannot be reached; the request may be retried later (HTTP 503)."""
