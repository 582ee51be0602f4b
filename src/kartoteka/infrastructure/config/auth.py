"""Authentication settings: no-auth or email one-time codes, the mail server, limits and lifetimes.

A section of its own so that identity depends on what it needs, not on the whole configuration.
The default is ``kind: none`` (everyone is an admin, see docs/contracts.md); turning ``otp`` on
requires a real ``secret_key``: start-up refuses the placeholder, because with a key everybody
knows, a stolen database would give away every code still valid in it.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

PLACEHOLDER_SECRET = "change-me-to-a-long-random-string"
MIN_SECRET_LENGTH = 32
DEFAULT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread in a mail


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("localhost", min_length=1, description="Mail server that sends the login codes.")
    port: int = Field(587, ge=1, le=65535, description="587 for STARTTLS, 465 for implicit TLS, 25 for none.")
    tls: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls: upgrade a plain connection (required, never skipped); tls: TLS from the first "
        "byte (port 465); none: plain text, for a relay on the same host only.",
    )
    username: str | None = Field(None, description="Login name on the mail server; null sends without logging in.")
    password: SecretStr | None = Field(None, description="Password for `username`.")
    from_address: str = Field(
        "kartoteka@localhost", min_length=3, description="Sender (From) of the login code messages."
    )
    timeout_s: float = Field(
        15.0, gt=0, le=300, description="Seconds to wait for the server at each step before answering 503."
    )
    ca_file: Path | None = Field(
        None, description="PEM file of the certificate authorities to trust; null uses the system's."
    )
    helo_hostname: str | None = Field(
        None, description="Name this host gives in EHLO; null uses the machine's host name (no DNS look-up)."
    )


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["none", "otp"] = Field(
        "none",
        description="none: no login, every request acts as an admin (the service is open to anyone who can "
        "reach it); otp: users log in with a code sent by email.",
    )
    default_user_email: str | None = Field(
        None, description="Made an admin at start-up when there is no user at all (otp only)."
    )
    open_author: str = Field(
        "anonymous",
        min_length=1,
        max_length=200,
        description="With kind none: the name recorded as the author of corrections and the submitter of cards.",
    )
    secret_key: SecretStr = Field(
        SecretStr(PLACEHOLDER_SECRET),
        description=f"Keys the stored code digests; at least {MIN_SECRET_LENGTH} characters, required for otp "
        "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`).",
    )
    otp_length: int = Field(8, ge=4, le=32, description="Characters in a login code (the web UI has 8 boxes).")
    otp_alphabet: str = Field(
        DEFAULT_ALPHABET,
        description="Characters codes are drawn from. Without lower-case letters, codes typed in lower case "
        "are accepted too.",
    )
    otp_ttl_s: int = Field(600, ge=30, le=86_400, description="Seconds a login code stays valid.")
    max_attempts: int = Field(5, ge=1, le=100, description="Wrong codes a challenge takes before it is dead.")
    session_ttl_s: int = Field(86_400, ge=60, le=366 * 86_400, description="Seconds a login session lasts.")
    cookie_secure: bool = Field(
        True,
        description="Mark cookies Secure (sent over HTTPS only). Turn off only for plain-http development "
        "on localhost.",
    )
    start_limit_per_email: int = Field(
        5, ge=1, le=100_000, description="Code requests per email address within `rate_window_s` (mail bombing)."
    )
    start_limit_per_address: int = Field(
        20, ge=1, le=100_000, description="Code requests per client IP address within `rate_window_s`."
    )
    verify_limit_per_address: int = Field(
        30, ge=1, le=100_000, description="Code entries per client IP address within `rate_window_s`."
    )
    rate_window_s: int = Field(
        900, ge=1, le=7 * 86_400, description="The sliding window the limits above count in, in seconds."
    )
    attempts_retention_days: int = Field(
        90, ge=1, le=3650, description="Days login attempt records are kept before they are purged."
    )
    purge_interval_s: int = Field(
        3600, ge=10, le=86_400, description="How often the api deletes expired challenges and sessions."
    )
    session_recheck_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="How often an open WebSocket or event stream checks that its session is still valid and "
        "its role still suffices; one that is not is closed (logout, a deleted account, a demotion).",
    )
    smtp: SmtpSettings = SmtpSettings()

    @field_validator("otp_alphabet")
    @classmethod
    def _usable_alphabet(cls, value: str) -> str:
        allowed = set(string.ascii_letters + string.digits + string.punctuation)
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a character")
        if len(value) < 10:
            raise ValueError("needs at least 10 characters")
        if not set(value) <= allowed:
            raise ValueError("may hold only ASCII letters, digits and punctuation (what a keyboard types)")
        return value

    @model_validator(mode="after")
    def _secret_for_otp(self) -> AuthSettings:
        if self.kind == "otp":
            secret = self.secret_key.get_secret_value()
            if secret == PLACEHOLDER_SECRET:
                raise ValueError("auth.secret_key must be set to a random secret when auth.kind is otp")
            if len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(f"auth.secret_key must be at least {MIN_SECRET_LENGTH} characters")
        return self
