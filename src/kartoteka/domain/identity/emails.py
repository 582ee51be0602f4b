"""Email addresses as identity keys: one spelling per mailbox.

People type their address in any case and with stray spaces, and
``Ann@Example.com`` must log in as ``ann@example.com``, so every address is
stored and looked up in one form: trimmed, NFC, lower-cased. Full syntax
checking (what a mail server would accept) is an adapter's job; these are the
invariants the domain relies on.
"""

from __future__ import annotations

import unicodedata

from kartoteka.domain.errors import Refusal

MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path, less the angle brackets
MAX_LOCAL_LENGTH = 64


class InvalidEmailError(Refusal, ValueError):
    """Not an email address; the message says what is wrong with it."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem, {"field": "email"})

    @property
    def message(self) -> str:
        return f"Invalid email address: {self}"


def normalize_email(value: str) -> str:
    email = unicodedata.normalize("NFC", value.strip()).lower()
    if email.count("@") != 1:
        raise InvalidEmailError("an email address needs exactly one @")
    local, _, domain = email.partition("@")
    if not local or not domain:
        raise InvalidEmailError("an email address needs a name before the @ and a domain after it")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in email):
        raise InvalidEmailError("an email address cannot contain spaces or control characters")
    if len(local) > MAX_LOCAL_LENGTH or len(email) > MAX_EMAIL_LENGTH:
        raise InvalidEmailError(f"an email address is at most {MAX_EMAIL_LENGTH} characters")
    return email
