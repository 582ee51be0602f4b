"""The one database failure every context shares: it cannot be reached right now."""

from __future__ import annotations

from kartoteka.domain.errors import UNAVAILABLE_MESSAGE, ErrorKind, Refusal


class DatabaseUnavailableError(Refusal):
    """The database cannot be reached; the request may be retried later."""

    kind = ErrorKind.UNAVAILABLE

    @property
    def message(self) -> str:
        return UNAVAILABLE_MESSAGE

    @property
    def detail(self) -> object:
        return str(self)
