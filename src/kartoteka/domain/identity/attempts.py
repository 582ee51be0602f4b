"""Login attempts: every start and verify of an OTP, kept for the record with why it failed.

Every attempt is written, successful or not. Failures are what an operator
looks for after the fact (a flood of starts from one address, codes guessed
against one account), so each carries a reason from a fixed vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class AttemptKind(StrEnum):
    OTP_START = "otp_start"
    OTP_VERIFY = "otp_verify"


class AttemptReason(StrEnum):
    CODE_SENT = "code_sent"
    AUTHENTICATED = "authenticated"
    UNKNOWN_EMAIL = "unknown_email"
    INVALID_EMAIL = "invalid_email"
    RATE_LIMITED_EMAIL = "rate_limited_email"
    RATE_LIMITED_ADDRESS = "rate_limited_address"
    MAIL_FAILED = "mail_failed"
    MISSING_CHALLENGE = "missing_challenge"
    UNKNOWN_CHALLENGE = "unknown_challenge"
    EXPIRED = "expired"
    CONSUMED = "consumed"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    WRONG_CODE = "wrong_code"


SUCCESSES = frozenset({AttemptReason.CODE_SENT, AttemptReason.AUTHENTICATED})


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    kind: AttemptKind
    reason: AttemptReason
    occurred_at: datetime
    email: str | None = None
    user_id: UUID | None = None
    client: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.reason in SUCCESSES
