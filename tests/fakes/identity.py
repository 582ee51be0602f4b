"""Fakes of the identity ports: a store with real transactions (uncommitted work vanishes), a limiter on
the fake clock, a mailer that can fail, and predictable secrets."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

from kartoteka.application.identity.ports import (
    ApiTokenNotFoundError,
    MailMessage,
    MailUnavailableError,
    RateDecision,
    RateLimit,
    UserConflictError,
    UserFilter,
    UserNotFoundError,
    UserPage,
)
from kartoteka.domain.identity.api_tokens import ApiToken
from kartoteka.domain.identity.attempts import LoginAttempt
from kartoteka.domain.identity.challenges import OtpChallenge
from kartoteka.domain.identity.emails import InvalidEmailError, normalize_email
from kartoteka.domain.identity.roles import Role
from kartoteka.domain.identity.sessions import Session
from kartoteka.domain.identity.users import User
from tests.fakes.shared import FakeClock


@dataclass
class IdentityState:
    users: dict[UUID, User] = field(default_factory=dict)
    challenges: dict[UUID, OtpChallenge] = field(default_factory=dict)
    sessions: dict[UUID, Session] = field(default_factory=dict)
    tokens: dict[UUID, ApiToken] = field(default_factory=dict)
    attempts: list[LoginAttempt] = field(default_factory=list)


class MemoryIdentityStore:
    """What has been committed."""

    def __init__(self) -> None:
        self.state = IdentityState()

    def reasons(self) -> list[str]:
        return [a.reason.value for a in self.state.attempts]


class _Users:
    def __init__(self, s: IdentityState) -> None:
        self._s = s

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self._s.users.values()):
            raise UserConflictError(user.email)
        self._s.users[user.id] = copy.deepcopy(user)

    async def get(self, user_id: UUID, *, lock: bool = False) -> User:
        if user_id not in self._s.users:
            raise UserNotFoundError(user_id)
        return copy.deepcopy(self._s.users[user_id])

    async def by_email(self, email: str) -> User | None:
        found = [u for u in self._s.users.values() if u.email == email]
        return copy.deepcopy(found[0]) if found else None

    async def update(self, user: User) -> None:
        if any(u.email == user.email and u.id != user.id for u in self._s.users.values()):
            raise UserConflictError(user.email)
        self._s.users[user.id] = copy.deepcopy(user)

    async def delete(self, user_id: UUID) -> None:
        self._s.users.pop(user_id, None)
        self._s.sessions = {k: v for k, v in self._s.sessions.items() if v.user_id != user_id}
        self._s.challenges = {k: v for k, v in self._s.challenges.items() if v.user_id != user_id}

    async def count_admins(self) -> int:
        return sum(u.role is Role.ADMIN for u in self._s.users.values())

    async def exists_any(self) -> bool:
        return bool(self._s.users)

    async def listing(self, where: UserFilter, offset: int, limit: int) -> UserPage:
        matching = sorted(
            (
                u
                for u in self._s.users.values()
                if (where.email_contains is None or where.email_contains in u.email)
                and (where.role is None or u.role is where.role)
            ),
            key=lambda u: (u.email, u.id),
        )
        return UserPage([copy.deepcopy(u) for u in matching[offset : offset + limit]], len(matching))


class _Challenges:
    def __init__(self, s: IdentityState) -> None:
        self._s = s

    async def add(self, challenge: OtpChallenge) -> None:
        self._s.challenges[challenge.id] = copy.deepcopy(challenge)

    async def by_token_hash(self, token_hash: str) -> OtpChallenge | None:
        found = [c for c in self._s.challenges.values() if c.token_hash == token_hash]
        return copy.deepcopy(found[0]) if found else None

    async def update(self, challenge: OtpChallenge) -> None:
        self._s.challenges[challenge.id] = copy.deepcopy(challenge)

    async def purge(self, now: datetime) -> int:
        gone = [k for k, c in self._s.challenges.items() if c.expires_at <= now]
        for k in gone:
            del self._s.challenges[k]
        return len(gone)


class _Sessions:
    def __init__(self, s: IdentityState) -> None:
        self._s = s

    async def add(self, session: Session) -> None:
        self._s.sessions[session.id] = copy.deepcopy(session)

    async def by_token_hash(self, token_hash: str) -> Session | None:
        found = [c for c in self._s.sessions.values() if c.token_hash == token_hash]
        return copy.deepcopy(found[0]) if found else None

    async def update(self, session: Session) -> None:
        self._s.sessions[session.id] = copy.deepcopy(session)

    async def revoke_all(self, user_id: UUID, now: datetime) -> int:
        live = [s for s in self._s.sessions.values() if s.user_id == user_id and s.is_active(now)]
        for s in live:
            s.revoke(now)
        return len(live)

    async def purge(self, now: datetime) -> int:
        gone = [k for k, s in self._s.sessions.items() if s.expires_at <= now or s.revoked_at is not None]
        for k in gone:
            del self._s.sessions[k]
        return len(gone)


class _Tokens:
    def __init__(self, s: IdentityState) -> None:
        self._s = s

    async def add(self, token: ApiToken) -> None:
        self._s.tokens[token.id] = copy.deepcopy(token)

    async def get(self, token_id: UUID) -> ApiToken:
        if token_id not in self._s.tokens:
            raise ApiTokenNotFoundError(token_id)
        return copy.deepcopy(self._s.tokens[token_id])

    async def update(self, token: ApiToken) -> None:
        self._s.tokens[token.id] = copy.deepcopy(token)

    async def listing(self) -> list[ApiToken]:
        return sorted(self._s.tokens.values(), key=lambda t: t.created_at, reverse=True)


class _Attempts:
    def __init__(self, s: IdentityState) -> None:
        self._s = s

    async def record(self, attempt: LoginAttempt) -> None:
        self._s.attempts.append(attempt)

    async def purge(self, before: datetime) -> int:
        kept = [a for a in self._s.attempts if a.occurred_at >= before]
        gone = len(self._s.attempts) - len(kept)
        self._s.attempts = kept
        return gone


class MemoryIdentityUnitOfWork:
    """Works on a copy of the committed state; ``commit`` publishes it, leaving without it drops it."""

    def __init__(self, store: MemoryIdentityStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        self._state = copy.deepcopy(self._store.state)
        self.users = _Users(self._state)
        self.challenges = _Challenges(self._state)
        self.sessions = _Sessions(self._state)
        self.tokens = _Tokens(self._state)
        self.attempts = _Attempts(self._state)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        self._store.state = copy.deepcopy(self._state)


class MemoryCredentialStore:
    def __init__(self, store: MemoryIdentityStore) -> None:
        self._store = store

    async def session_with_user(self, token_hash: str) -> tuple[Session, User] | None:
        for session in self._store.state.sessions.values():
            if session.token_hash == token_hash and session.user_id in self._store.state.users:
                return copy.deepcopy(session), copy.deepcopy(self._store.state.users[session.user_id])
        return None

    async def api_token(self, token_hash: str) -> ApiToken | None:
        found = [t for t in self._store.state.tokens.values() if t.token_hash == token_hash]
        return copy.deepcopy(found[0]) if found else None

    async def challenge(self, token_hash: str) -> OtpChallenge | None:
        found = [c for c in self._store.state.challenges.values() if c.token_hash == token_hash]
        return copy.deepcopy(found[0]) if found else None


class MemoryRateLimiter:
    """A sliding log per key, on the injected clock."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.hits: dict[str, list[datetime]] = {}

    async def hit(self, key: str, limit: RateLimit) -> RateDecision:
        now = self._clock()
        window = timedelta(seconds=limit.window_s)
        recent = [t for t in self.hits.get(key, []) if t > now - window]
        if len(recent) >= limit.limit:
            self.hits[key] = recent
            return RateDecision(False, max(1, int((recent[0] + window - now).total_seconds())))
        self.hits[key] = [*recent, now]
        return RateDecision(True)


class MemoryMailer:
    def __init__(self) -> None:
        self.sent: list[MailMessage] = []
        self.down = False

    async def send(self, message: MailMessage) -> None:
        if self.down:
            raise MailUnavailableError("connection refused")
        self.sent.append(message)


class PlainEmailSyntax:
    """The domain's invariants and a dot in the domain: enough for use-case tests."""

    def normalize(self, value: str) -> str:
        email = normalize_email(value)
        if "." not in email.partition("@")[2]:
            raise InvalidEmailError("the part after the @ needs a dot")
        return email


class CountingSecrets:
    """Tokens 00…01, 00…02, … and codes counted in the alphabet's digits; ``issued`` keeps the codes."""

    def __init__(self) -> None:
        self._tokens = itertools.count(1)
        self._codes = itertools.count(1)
        self.issued: list[str] = []

    def token(self) -> str:
        return f"{next(self._tokens):064x}"

    def code(self, length: int, alphabet: str) -> str:
        n, digits = next(self._codes), []
        for _ in range(length):
            n, d = divmod(n, len(alphabet))
            digits.append(alphabet[d])
        code = "".join(reversed(digits))
        self.issued.append(code)
        return code
