"""What the identity use cases need: their tables, a rate limiter, a mail sender, an email checker.

Writes go through ``IdentityUnitOfWork`` (one transaction: a login's session
and its attempt record commit together). ``CredentialStore`` is the read side
every guarded request uses, one round trip per look-up, with no transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from kartoteka.domain.errors import UNAVAILABLE_MESSAGE, ErrorKind, Refusal
from kartoteka.domain.identity.api_tokens import ApiToken
from kartoteka.domain.identity.attempts import LoginAttempt
from kartoteka.domain.identity.challenges import OtpChallenge
from kartoteka.domain.identity.roles import Role
from kartoteka.domain.identity.sessions import Session
from kartoteka.domain.identity.users import User


class UserNotFoundError(Refusal, LookupError):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, user_id: UUID) -> None:
        super().__init__(f"user {user_id} does not exist", {"id": str(user_id)})
        self.user_id = user_id

    @property
    def message(self) -> str:
        return "User not found"


class UserConflictError(Refusal):
    """Another user has that email address already."""

    kind = ErrorKind.CONFLICT


class ApiTokenNotFoundError(Refusal, LookupError):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, token_id: UUID) -> None:
        super().__init__(f"API token {token_id} does not exist", {"id": str(token_id)})
        self.token_id = token_id

    @property
    def message(self) -> str:
        return "API token not found"


@dataclass(frozen=True, slots=True)
class UserFilter:
    email_contains: str | None = None  # case-insensitive substring
    role: Role | None = None


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[User]
    total: int  # every user matching the filter, not just this page


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Raises UserConflictError when the email is taken."""
        ...

    async def get(self, user_id: UUID, *, lock: bool = False) -> User:
        """Raises UserNotFoundError; ``lock`` holds the row until the transaction ends."""
        ...

    async def by_email(self, email: str) -> User | None: ...

    async def update(self, user: User) -> None:
        """Raises UserConflictError when the new email is taken."""
        ...

    async def delete(self, user_id: UUID) -> None:
        """Its sessions and challenges go with it; attempts and tokens it made stay, unlinked."""
        ...

    async def count_admins(self) -> int:
        """Admins now, with their rows locked until the transaction ends.

        The lock makes two admins demoting each other at once take turns, so the second
        sees the first's change and the last admin survives.
        """
        ...

    async def exists_any(self) -> bool: ...

    async def listing(self, where: UserFilter, offset: int, limit: int) -> UserPage:
        """Ordered by email (then id), so pages neither repeat nor skip anyone."""
        ...


class ChallengeRepository(Protocol):
    async def add(self, challenge: OtpChallenge) -> None: ...

    async def by_token_hash(self, token_hash: str) -> OtpChallenge | None:
        """Locked until the transaction ends, so parallel guesses are counted one after another."""
        ...

    async def update(self, challenge: OtpChallenge) -> None: ...

    async def purge(self, now: datetime) -> int:
        """Delete challenges that expired; how many."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def by_token_hash(self, token_hash: str) -> Session | None: ...

    async def update(self, session: Session) -> None: ...

    async def revoke_all(self, user_id: UUID, now: datetime) -> int:
        """Revoke every active session of the user; how many."""
        ...

    async def purge(self, now: datetime) -> int:
        """Delete sessions that expired or were revoked; how many."""
        ...


class ApiTokenRepository(Protocol):
    async def add(self, token: ApiToken) -> None: ...

    async def get(self, token_id: UUID) -> ApiToken:
        """Raises ApiTokenNotFoundError."""
        ...

    async def update(self, token: ApiToken) -> None: ...

    async def listing(self) -> list[ApiToken]:
        """Newest first, revoked ones included (they say who had access until when)."""
        ...


class LoginAttemptLog(Protocol):
    async def record(self, attempt: LoginAttempt) -> None: ...

    async def purge(self, before: datetime) -> int: ...


class IdentityUnitOfWork(Protocol):
    @property
    def users(self) -> UserRepository: ...

    @property
    def challenges(self) -> ChallengeRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def tokens(self) -> ApiTokenRepository: ...

    @property
    def attempts(self) -> LoginAttemptLog: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    async def commit(self) -> None: ...


class CredentialStore(Protocol):
    """Look-ups by token hash for every guarded request: no transaction, one statement each."""

    async def session_with_user(self, token_hash: str) -> tuple[Session, User] | None: ...

    async def api_token(self, token_hash: str) -> ApiToken | None: ...

    async def challenge(self, token_hash: str) -> OtpChallenge | None: ...


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int  # hits allowed ...
    window_s: int  # ... within any this many seconds


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after_s: int = 0  # when refused: seconds until a hit would be allowed again


class RateLimiterUnavailableError(Refusal):
    """The limiter's store cannot be reached; refusing is safer than letting a flood through."""

    kind = ErrorKind.UNAVAILABLE

    @property
    def message(self) -> str:
        return UNAVAILABLE_MESSAGE

    @property
    def detail(self) -> object:
        return str(self)


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: RateLimit) -> RateDecision:
        """Count a hit against ``key`` if it is allowed; a refused hit is not counted."""
        ...


@dataclass(frozen=True, slots=True)
class MailMessage:
    to: str
    subject: str
    body: str


class MailUnavailableError(Refusal):
    """The mail server could not be reached or refused the message; the caller may retry later."""

    kind = ErrorKind.UNAVAILABLE

    @property
    def message(self) -> str:
        return "The login code could not be sent; try again shortly"

    @property
    def detail(self) -> object:
        return str(self)


class Mailer(Protocol):
    async def send(self, message: MailMessage) -> None:
        """Returns once the server accepted the message; raises MailUnavailableError otherwise."""
        ...


class EmailSyntax(Protocol):
    """Full syntax checking of an address, beyond the domain's invariants."""

    def normalize(self, value: str) -> str:
        """The address in the one form it is stored in; raises InvalidEmailError."""
        ...
