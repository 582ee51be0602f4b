"""StartOtp and VerifyOtp: logging in with a code sent by email.

An unknown address gets the same answer and a challenge cookie that behaves
like a real one (no enumeration); starts are
rate limited per address and per client (no mail bombing); a challenge takes
at most ``max_attempts`` wrong codes; codes are stored as HMACs and compared
in constant time; a mail that cannot be sent is a 503 with no challenge left
behind; and every failure is recorded with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from kartoteka.application.identity.errors import ChallengeMissingError, ChallengeNotFoundError, RateLimitedError
from kartoteka.application.identity.policy import IdentityPolicy, SecretSource
from kartoteka.application.identity.ports import (
    EmailSyntax,
    IdentityUnitOfWork,
    Mailer,
    MailMessage,
    MailUnavailableError,
    RateLimit,
    RateLimiter,
)
from kartoteka.application.shared.clock import Clock, NewId
from kartoteka.domain.identity.attempts import AttemptKind, AttemptReason, LoginAttempt
from kartoteka.domain.identity.challenges import ChallengeRefusal, ChallengeRefusedError, OtpChallenge
from kartoteka.domain.identity.digests import code_digest, hash_token
from kartoteka.domain.identity.emails import InvalidEmailError
from kartoteka.domain.identity.sessions import Session
from kartoteka.domain.identity.users import User

log = logging.getLogger(__name__)

_REFUSAL_REASONS = {
    ChallengeRefusal.EXPIRED: AttemptReason.EXPIRED,
    ChallengeRefusal.CONSUMED: AttemptReason.CONSUMED,
    ChallengeRefusal.EXHAUSTED: AttemptReason.TOO_MANY_ATTEMPTS,
    ChallengeRefusal.WRONG_CODE: AttemptReason.WRONG_CODE,
}


async def record_attempt(uow_factory: Callable[[], IdentityUnitOfWork], attempt: LoginAttempt) -> None:
    """A failure's record, in a transaction of its own (the request itself changes nothing)."""
    async with uow_factory() as uow:
        await uow.attempts.record(attempt)
        await uow.commit()


class StartOtp:
    def __init__(
        self,
        uow: Callable[[], IdentityUnitOfWork],
        emails: EmailSyntax,
        limiter: RateLimiter,
        mailer: Mailer,
        secrets: SecretSource,
        policy: IdentityPolicy,
        clock: Clock,
        new_id: NewId,
    ) -> None:
        self._uow = uow
        self._emails = emails
        self._limiter = limiter
        self._mailer = mailer
        self._secrets = secrets
        self._policy = policy
        self._clock = clock
        self._new_id = new_id

    async def __call__(self, email: str, client: str | None) -> str:
        """The raw challenge token for the cookie; the same kind of answer whether the address has an
        account or not. Raises InvalidEmailError, RateLimitedError, MailUnavailableError."""
        # The address limit comes first: it also stops a flood of malformed addresses.
        await self._limit(f"otp-start:address:{client or '-'}", self._policy.start_per_address, None, client)
        try:
            address = self._emails.normalize(email)
        except InvalidEmailError:
            await self._record(AttemptReason.INVALID_EMAIL, None, None, client)
            raise
        # Counted before the look-up, for unknown addresses too: the limit must not tell them apart.
        await self._limit(f"otp-start:email:{address}", self._policy.start_per_email, address, client)
        async with self._uow() as uow:
            user = await uow.users.by_email(address)
        raw_token = self._secrets.token()
        code = self._secrets.code(self._policy.otp.length, self._policy.otp.alphabet)
        challenge_id = self._new_id()
        now = self._clock()
        challenge = OtpChallenge.issue(
            challenge_id,
            hash_token(raw_token),
            user.id if user else None,
            address,
            code_digest(self._policy.secret_key, challenge_id, code),
            now,
            self._policy.otp.ttl,
        )
        if user is not None:
            try:
                await self._mailer.send(self._mail(user, code))
            except MailUnavailableError:
                await self._record(AttemptReason.MAIL_FAILED, address, user.id, client)
                raise
        reason = AttemptReason.CODE_SENT if user else AttemptReason.UNKNOWN_EMAIL
        async with self._uow() as uow:
            await uow.challenges.add(challenge)
            await uow.attempts.record(
                LoginAttempt(AttemptKind.OTP_START, reason, now, address, user.id if user else None, client)
            )
            await uow.commit()
        return raw_token

    def _mail(self, user: User, code: str) -> MailMessage:
        minutes = max(1, int(self._policy.otp.ttl.total_seconds() // 60))
        body = (
            f"Your OTP code is: {code}\n\n"
            f"It is valid for {minutes} minute{'s' if minutes != 1 else ''} and can be used once.\n"
            "If you did not try to log in to Kartoteka, ignore this message.\n"
        )
        return MailMessage(to=user.email, subject=self._policy.mail_subject, body=body)

    async def _limit(self, key: str, limit: RateLimit, email: str | None, client: str | None) -> None:
        decision = await self._limiter.hit(key, limit)
        if not decision.allowed:
            reason = AttemptReason.RATE_LIMITED_EMAIL if email else AttemptReason.RATE_LIMITED_ADDRESS
            await self._record(reason, email, None, client)
            raise RateLimitedError(decision.retry_after_s)

    async def _record(self, reason: AttemptReason, email: str | None, user_id: UUID | None, client: str | None) -> None:
        attempt = LoginAttempt(AttemptKind.OTP_START, reason, self._clock(), email, user_id, client)
        await record_attempt(self._uow, attempt)


@dataclass(frozen=True, slots=True)
class Login:
    """A new session: ``token`` goes into the cookie and is never stored or shown again."""

    token: str
    session: Session
    user: User


class VerifyOtp:
    def __init__(
        self,
        uow: Callable[[], IdentityUnitOfWork],
        limiter: RateLimiter,
        secrets: SecretSource,
        policy: IdentityPolicy,
        clock: Clock,
        new_id: NewId,
    ) -> None:
        self._uow = uow
        self._limiter = limiter
        self._secrets = secrets
        self._policy = policy
        self._clock = clock
        self._new_id = new_id

    async def __call__(self, challenge_token: str | None, code: str, client: str | None) -> Login:
        """Raises ChallengeMissingError, RateLimitedError, ChallengeNotFoundError, ChallengeRefusedError."""
        if not challenge_token:
            await self._record(AttemptReason.MISSING_CHALLENGE, None, None, client)
            raise ChallengeMissingError
        decision = await self._limiter.hit(f"otp-verify:address:{client or '-'}", self._policy.verify_per_address)
        if not decision.allowed:
            await self._record(AttemptReason.RATE_LIMITED_ADDRESS, None, None, client)
            raise RateLimitedError(decision.retry_after_s)
        otp = self._policy.otp
        async with self._uow() as uow:
            now = self._clock()
            challenge = await uow.challenges.by_token_hash(hash_token(challenge_token))
            if challenge is None:
                await uow.attempts.record(self._attempt(AttemptReason.UNKNOWN_CHALLENGE, None, None, client, now))
                await uow.commit()
                raise ChallengeNotFoundError
            digest = code_digest(self._policy.secret_key, challenge.id, otp.normalize_code(code))
            try:
                user_id = challenge.redeem(digest, now, otp.max_attempts)
                if user_id is None:  # someone guessed the code nobody was sent: still no account
                    raise ChallengeRefusedError(ChallengeRefusal.WRONG_CODE, 0)
            except ChallengeRefusedError as refused:
                await uow.challenges.update(challenge)
                reason = _REFUSAL_REASONS[refused.reason]
                await uow.attempts.record(self._attempt(reason, challenge.email, challenge.user_id, client, now))
                await uow.commit()
                raise
            user = await uow.users.get(user_id)  # a deleted user's challenges went with them
            raw_token = self._secrets.token()
            session = Session.open(self._new_id(), hash_token(raw_token), user.id, now, self._policy.session_ttl)
            await uow.challenges.update(challenge)
            await uow.sessions.add(session)
            await uow.attempts.record(self._attempt(AttemptReason.AUTHENTICATED, user.email, user.id, client, now))
            await uow.commit()
        log.info("user %s logged in (session %s)", user.id, session.id)
        return Login(raw_token, session, user)

    @staticmethod
    def _attempt(
        reason: AttemptReason, email: str | None, user_id: UUID | None, client: str | None, now: datetime
    ) -> LoginAttempt:
        return LoginAttempt(AttemptKind.OTP_VERIFY, reason, now, email, user_id, client)

    async def _record(self, reason: AttemptReason, email: str | None, user_id: UUID | None, client: str | None) -> None:
        await record_attempt(self._uow, self._attempt(reason, email, user_id, client, self._clock()))
