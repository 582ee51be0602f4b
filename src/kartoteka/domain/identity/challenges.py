"""An OTP challenge: one code, mailed once, good for a few minutes and one login.

The challenge is what the ``challenge_token`` cookie names. It dies when it is
used, when it expires, or after ``max_attempts`` wrong codes: guessing an
8-character code is hopeless when each mailed code allows a handful of tries.

A challenge for an address with no account (``user_id`` None) is stored too,
with the digest of a code nobody was sent. It behaves exactly like a real one
(wrong code, attempts, expiry), so neither the start nor the verify answer
tells whether an address has an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.identity.digests import same_digest


class ChallengeRefusal(StrEnum):
    """Why a code was not accepted; also the reason recorded with the failed attempt."""

    EXPIRED = "expired"
    CONSUMED = "consumed"
    EXHAUSTED = "too_many_attempts"
    WRONG_CODE = "wrong_code"


# What the person typing the code is told, as the login page shows it.
_REFUSAL_MESSAGES = {
    ChallengeRefusal.WRONG_CODE: "Invalid OTP code.",
    ChallengeRefusal.EXPIRED: "OTP code expired",
    ChallengeRefusal.CONSUMED: "OTP code already used. Please start the OTP process again.",
    ChallengeRefusal.EXHAUSTED: "Too many wrong codes. Please start the OTP process again.",
}


class ChallengeRefusedError(Refusal):
    """A code that does not log in; a wrong code leaves the challenge alive while attempts remain."""

    def __init__(self, reason: ChallengeRefusal, attempts_left: int) -> None:
        super().__init__(
            reason.value,
            {"attempts_left": attempts_left},
            kind=ErrorKind.UNAUTHENTICATED if reason is ChallengeRefusal.WRONG_CODE else ErrorKind.REFUSED,
        )
        self.reason = reason
        self.attempts_left = attempts_left

    @property
    def message(self) -> str:
        return _REFUSAL_MESSAGES[self.reason]


@dataclass(eq=False)
class OtpChallenge:
    id: UUID
    token_hash: str
    user_id: UUID | None
    email: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    consumed_at: datetime | None = None

    @classmethod
    def issue(
        cls,
        challenge_id: UUID,
        token_hash: str,
        user_id: UUID | None,
        email: str,
        code_hash: str,
        now: datetime,
        ttl: timedelta,
    ) -> OtpChallenge:
        return cls(
            id=challenge_id,
            token_hash=token_hash,
            user_id=user_id,
            email=email,
            code_hash=code_hash,
            created_at=now,
            expires_at=now + ttl,
        )

    def is_open(self, now: datetime, max_attempts: int) -> bool:
        """Could a right code still be accepted?"""
        return self.consumed_at is None and now < self.expires_at and self.attempts < max_attempts

    def redeem(self, code_hash: str, now: datetime, max_attempts: int) -> UUID | None:
        """Accept the code whose digest is ``code_hash``; the user it logs in (None: no account).

        A wrong code counts against the challenge even when it is the last one allowed; the
        caller must save the challenge whether this returns or raises.
        """
        if self.consumed_at is not None:
            raise ChallengeRefusedError(ChallengeRefusal.CONSUMED, 0)
        if now >= self.expires_at:
            raise ChallengeRefusedError(ChallengeRefusal.EXPIRED, 0)
        if self.attempts >= max_attempts:
            raise ChallengeRefusedError(ChallengeRefusal.EXHAUSTED, 0)
        if not same_digest(code_hash, self.code_hash):
            self.attempts += 1
            raise ChallengeRefusedError(ChallengeRefusal.WRONG_CODE, max_attempts - self.attempts)
        self.consumed_at = now
        return self.user_id
