"""Text a client names things with: file names, labels, token names.

Such text is stored (PostgreSQL ``text`` cannot hold a NUL at all), shown in lists and
written into exports and file names, so characters that are not text are refused where
the name comes in, with a message that says which character and where, rather than
failing later in the database or a client's terminal.
"""

from __future__ import annotations

import unicodedata

from kartoteka.domain.errors import ErrorKind, Refusal

# Control characters (C0, DEL, C1), lone surrogates, and the line and paragraph separators.
_NOT_TEXT = frozenset({"Cc", "Cs", "Zl", "Zp"})


class InvalidTextError(Refusal, ValueError):
    """A name or label holding a character that is not text (a NUL, a control character)."""

    kind = ErrorKind.INVALID

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, {"field": field})
        self.field = field


def first_non_text(value: str) -> tuple[int, str] | None:
    """Position and character of the first character that is not text, if any."""
    for position, char in enumerate(value):
        if unicodedata.category(char) in _NOT_TEXT:
            return position, char
    return None


def plain_text(value: str, field: str) -> str:
    """``value`` unchanged, or InvalidTextError naming ``field``, the character and its position."""
    found = first_non_text(value)
    if found is not None:
        position, char = found
        raise InvalidTextError(
            field,
            f"{field} holds a control character (U+{ord(char):04X}) at position {position}; it must be plain text",
        )
    return value
