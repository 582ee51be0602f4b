"""Who a request comes from, what ``/api/session`` says, logging out, and purging the expired.

Sessions are checked against the database on every request, with the user's
current role: a logout, a "log out everywhere", a demotion or a deleted
account takes effect on the very next request, not when a cookie expires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from kartoteka.application.identity.errors import AuthenticationRequiredError
from kartoteka.application.identity.policy import IdentityPolicy
from kartoteka.application.identity.ports import CredentialStore, IdentityUnitOfWork
from kartoteka.application.shared.clock import Clock
from kartoteka.domain.identity.digests import hash_token
from kartoteka.domain.identity.principal import Principal, PrincipalKind

log = logging.getLogger(__name__)


class Authenticate:
    """A session cookie or a bearer token, to a Principal (anonymous when neither is valid).

    A bearer token wins over a cookie: a script says explicitly who it is, and a
    wrong token must not fall back to some browser session that happens to be there.
    """

    def __init__(self, credentials: CredentialStore, policy: IdentityPolicy, clock: Clock) -> None:
        self._credentials = credentials
        self._policy = policy
        self._clock = clock

    async def __call__(self, session_token: str | None, bearer: str | None) -> Principal:
        if not self._policy.enabled:
            return Principal.open_admin(self._policy.open_author)
        if bearer is not None:
            return await self.by_bearer(bearer)
        if session_token:
            return await self.by_session(session_token)
        return Principal.anonymous()

    async def by_session(self, session_token: str) -> Principal:
        found = await self._credentials.session_with_user(hash_token(session_token))
        if found is None:
            return Principal.anonymous()
        session, user = found
        if not session.is_active(self._clock()):
            return Principal.anonymous()
        return Principal(PrincipalKind.SESSION, user.role, user.id, user.email, session_id=session.id)

    async def by_bearer(self, bearer: str) -> Principal:
        if not bearer:
            return Principal.anonymous()
        token = await self._credentials.api_token(hash_token(bearer))
        if token is None or not token.active:
            return Principal.anonymous()
        return Principal(PrincipalKind.API_TOKEN, token.role, token_id=token.id, token_name=token.name)


class SessionState(StrEnum):
    ANONYMOUS = "anonymous"
    CHALLENGE_ISSUED = "challenge_issued"
    AUTHENTICATED = "authenticated"


@dataclass(frozen=True, slots=True)
class SessionView:
    """What ``GET /api/session`` answers, and which cookies no longer stand for anything."""

    state: SessionState
    principal: Principal
    clear_challenge: bool = False
    clear_session: bool = False


class GetSession:
    """A pending challenge wins (the web UI is mid-login), then the session; cookies that name
    nothing usable, a stale challenge included, are cleared rather than refused."""

    def __init__(
        self, credentials: CredentialStore, authenticate: Authenticate, policy: IdentityPolicy, clock: Clock
    ) -> None:
        self._credentials = credentials
        self._authenticate = authenticate
        self._policy = policy
        self._clock = clock

    async def __call__(self, challenge_token: str | None, session_token: str | None, bearer: str | None) -> SessionView:
        if not self._policy.enabled:
            return SessionView(SessionState.AUTHENTICATED, Principal.open_admin())
        clear_challenge = False
        if challenge_token:
            challenge = await self._credentials.challenge(hash_token(challenge_token))
            if challenge is not None and challenge.is_open(self._clock(), self._policy.otp.max_attempts):
                return SessionView(SessionState.CHALLENGE_ISSUED, Principal.anonymous())
            clear_challenge = True
        principal = await self._authenticate(session_token, bearer)
        if principal.authenticated:
            return SessionView(SessionState.AUTHENTICATED, principal, clear_challenge=clear_challenge)
        # A bad bearer token says nothing about the cookie: only a cookie that was itself checked is cleared.
        stale_cookie = bool(session_token) and bearer is None
        return SessionView(
            SessionState.ANONYMOUS, principal, clear_challenge=clear_challenge, clear_session=stale_cookie
        )


class Logout:
    """Revokes the session in the database: a copied cookie stops working too."""

    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, session_token: str | None) -> bool:
        """Whether a live session was revoked."""
        if not session_token:
            return False
        async with self._uow() as uow:
            session = await uow.sessions.by_token_hash(hash_token(session_token))
            now = self._clock()
            if session is None or not session.is_active(now):
                return False
            session.revoke(now)
            await uow.sessions.update(session)
            await uow.commit()
        log.info("session %s of user %s logged out", session.id, session.user_id)
        return True


class LogoutEverywhere:
    """Revokes every session of the calling user (a lost laptop, a shared computer)."""

    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal) -> int:
        if principal.kind is not PrincipalKind.SESSION or principal.user_id is None:
            raise AuthenticationRequiredError
        async with self._uow() as uow:
            revoked = await uow.sessions.revoke_all(principal.user_id, self._clock())
            await uow.commit()
        log.info("user %s logged out of %d session(s)", principal.user_id, revoked)
        return revoked


@dataclass(frozen=True, slots=True)
class Purged:
    challenges: int
    sessions: int
    attempts: int


class PurgeExpired:
    """Deletes what can never be used again, so the tables (and their indexes) stay small."""

    def __init__(self, uow: Callable[[], IdentityUnitOfWork], policy: IdentityPolicy, clock: Clock) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock

    async def __call__(self) -> Purged:
        now = self._clock()
        async with self._uow() as uow:
            purged = Purged(
                challenges=await uow.challenges.purge(now),
                sessions=await uow.sessions.purge(now),
                attempts=await uow.attempts.purge(now - self._policy.attempts_retention),
            )
            await uow.commit()
        if purged.challenges or purged.sessions or purged.attempts:
            log.info(
                "purged %d challenge(s), %d session(s), %d login attempt record(s)",
                purged.challenges,
                purged.sessions,
                purged.attempts,
            )
        return purged
