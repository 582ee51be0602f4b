"""The identity rules a deployment chooses: code shape and lifetime, limits, session lifetime.

Built once from the configuration by the composition root; the use cases see
plain values and no settings library.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from kartoteka.application.identity.ports import RateLimit
from kartoteka.domain.identity.principal import ANONYMOUS_AUTHOR

# A person needs a few codes an hour at most; a shared office address needs more.
START_PER_EMAIL = RateLimit(5, 900)
START_PER_ADDRESS = RateLimit(20, 900)
VERIFY_PER_ADDRESS = RateLimit(30, 900)


@dataclass(frozen=True, slots=True)
class OtpPolicy:
    length: int = 8
    alphabet: str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5

    def normalize_code(self, raw: str) -> str:
        """What was typed, as it was generated: surrounding spaces go, and when the alphabet has
        no lower-case letters a code typed in lower case is still right."""
        code = raw.strip()
        if self.alphabet == self.alphabet.upper():
            code = code.upper()
        return code


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    enabled: bool = True  # False: no authentication, everyone acts as an admin
    otp: OtpPolicy = OtpPolicy()
    session_ttl: timedelta = timedelta(hours=24)
    secret_key: bytes = field(default=b"", repr=False)  # keys the code digests; never printed
    start_per_email: RateLimit = START_PER_EMAIL
    start_per_address: RateLimit = START_PER_ADDRESS
    verify_per_address: RateLimit = VERIFY_PER_ADDRESS
    attempts_retention: timedelta = timedelta(days=90)
    default_admin_email: str | None = None
    mail_subject: str = "Your OTP Code"
    open_author: str = ANONYMOUS_AUTHOR  # who made a change when authentication is off


class SecretSource(Protocol):
    """Where tokens and codes come from; tests substitute one they can predict."""

    def token(self) -> str:
        """256 random bits as 64 hex characters, the cookie format of the login contract."""
        ...

    def code(self, length: int, alphabet: str) -> str: ...


class SystemSecrets:
    """The operating system's CSPRNG, through ``secrets``."""

    def token(self) -> str:
        return secrets.token_hex(32)

    def code(self, length: int, alphabet: str) -> str:
        return "".join(secrets.choice(alphabet) for _ in range(length))
