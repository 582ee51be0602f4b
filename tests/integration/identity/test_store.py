"""The identity tables through the SQL adapters, on the harness's PostgreSQL.

What in-memory fakes cannot show is checked here: the unique indexes, the
cascades of a user's deletion, the filtered totals with LIKE wildcards in the
filter, and the row locks that keep the last admin and the attempt limit
intact when requests race.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kartoteka.application.identity.otp import StartOtp, VerifyOtp
from kartoteka.application.identity.policy import IdentityPolicy, OtpPolicy
from kartoteka.application.identity.ports import (
    ApiTokenNotFoundError,
    RateLimit,
    UserConflictError,
    UserFilter,
    UserNotFoundError,
)
from kartoteka.application.identity.users import UpdateUser
from kartoteka.application.shared.database import DatabaseUnavailableError
from kartoteka.domain.identity.api_tokens import ApiToken
from kartoteka.domain.identity.attempts import AttemptKind, AttemptReason, LoginAttempt
from kartoteka.domain.identity.challenges import ChallengeRefusal, ChallengeRefusedError, OtpChallenge
from kartoteka.domain.identity.digests import hash_token
from kartoteka.domain.identity.principal import Principal, PrincipalKind
from kartoteka.domain.identity.roles import Role
from kartoteka.domain.identity.sessions import Session
from kartoteka.domain.identity.users import LastAdminError, User
from kartoteka.infrastructure.db.identity.credentials import SqlCredentialStore
from kartoteka.infrastructure.db.identity.unit_of_work import SqlIdentityUnitOfWork
from kartoteka.infrastructure.mail.addresses import EmailValidatorSyntax
from tests.fakes.identity import CountingSecrets, MemoryMailer, MemoryRateLimiter
from tests.fakes.shared import START, FakeClock

TABLES = "login_attempts, api_tokens, sessions, otp_challenges, users"


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))
    return engine


def user(email: str, role: Role = Role.USER) -> User:
    return User.register(uuid4(), email, role, START)


async def add_users(db: AsyncEngine, *people: User) -> None:
    async with SqlIdentityUnitOfWork(db) as uow:
        for person in people:
            await uow.users.add(person)
        await uow.commit()


async def test_users_round_trip_and_emails_are_unique(db: AsyncEngine) -> None:
    ann = user("ann@example.org", Role.EDITOR)
    await add_users(db, ann)
    async with SqlIdentityUnitOfWork(db) as uow:
        with pytest.raises(UserConflictError):
            await uow.users.add(user("ann@example.org"))
        await uow.users.add(user("bob@example.org"))  # the transaction survived the conflict
        await uow.commit()
    async with SqlIdentityUnitOfWork(db) as uow:
        got = await uow.users.get(ann.id, lock=True)
        assert (got.email, got.role, got.created_at) == ("ann@example.org", Role.EDITOR, START)
        assert (await uow.users.by_email("bob@example.org")) is not None
        assert await uow.users.by_email("nobody@example.org") is None
        got.change_email("bob@example.org", START)
        with pytest.raises(UserConflictError):
            await uow.users.update(got)
        with pytest.raises(UserNotFoundError):
            await uow.users.get(uuid4())
        assert await uow.users.exists_any()


async def test_listing_filters_pages_and_counts_the_filtered_total(db: AsyncEngine) -> None:
    await add_users(
        db,
        *(user(f"reader{n}@example.org") for n in range(5)),
        user("writer@example.org", Role.EDITOR),
        user("under_score@example.org", Role.ADMIN),
        user("under-score@example.org"),
        user("100%@example.org"),
    )
    async with SqlIdentityUnitOfWork(db) as uow:
        page = await uow.users.listing(UserFilter(email_contains="reader"), 2, 2)
        assert page.total == 5
        assert [u.email for u in page.users] == ["reader2@example.org", "reader3@example.org"]
        assert (await uow.users.listing(UserFilter(role=Role.EDITOR), 0, 10)).total == 1
        assert (await uow.users.listing(UserFilter(email_contains="er", role=Role.USER), 0, 1)).total == 6
        assert [u.email for u in (await uow.users.listing(UserFilter(email_contains="r_s"), 0, 10)).users] == [
            "under_score@example.org"
        ]  # "_" is a character, not LIKE's wildcard
        assert (await uow.users.listing(UserFilter(email_contains="0%"), 0, 10)).total == 1
        everyone = await uow.users.listing(UserFilter(), 0, 100)
        assert [u.email for u in everyone.users] == sorted(u.email for u in everyone.users)
        assert everyone.total == 9


async def test_deleting_a_user_takes_sessions_and_challenges_and_keeps_the_record(db: AsyncEngine) -> None:
    ann, root = user("ann@example.org"), user("root@example.org", Role.ADMIN)
    await add_users(db, ann, root)
    async with SqlIdentityUnitOfWork(db) as uow:
        await uow.sessions.add(Session.open(uuid4(), hash_token("s"), ann.id, START, timedelta(hours=1)))
        await uow.challenges.add(
            OtpChallenge.issue(uuid4(), hash_token("c"), ann.id, ann.email, "d", START, timedelta(minutes=5))
        )
        await uow.tokens.add(ApiToken.issue(uuid4(), "ann's script", hash_token("kt"), Role.USER, START, ann.id))
        await uow.attempts.record(
            LoginAttempt(AttemptKind.OTP_START, AttemptReason.CODE_SENT, START, ann.email, ann.id, "192.0.2.1")
        )
        await uow.commit()
    async with SqlIdentityUnitOfWork(db) as uow:
        await uow.users.delete(ann.id)
        await uow.commit()
    credentials = SqlCredentialStore(db)
    assert await credentials.session_with_user(hash_token("s")) is None
    assert await credentials.challenge(hash_token("c")) is None
    token = await credentials.api_token(hash_token("kt"))
    assert token is not None
    assert token.created_by is None
    async with db.connect() as conn:
        rows = (await conn.execute(text("SELECT email, user_id, succeeded, reason FROM login_attempts"))).all()
    assert [tuple(r) for r in rows] == [("ann@example.org", None, True, "code_sent")]


async def test_credentials_are_found_by_hash_with_the_users_current_role(db: AsyncEngine) -> None:
    ann = user("ann@example.org", Role.EDITOR)
    await add_users(db, ann)
    session = Session.open(uuid4(), hash_token("raw-session"), ann.id, START, timedelta(hours=1))
    async with SqlIdentityUnitOfWork(db) as uow:
        await uow.sessions.add(session)
        await uow.commit()
    credentials = SqlCredentialStore(db)
    assert await credentials.session_with_user("raw-session") is None  # only the hash finds it
    found = await credentials.session_with_user(hash_token("raw-session"))
    assert found is not None
    assert (found[0].id, found[0].expires_at, found[1].role) == (session.id, START + timedelta(hours=1), Role.EDITOR)
    async with SqlIdentityUnitOfWork(db) as uow:
        ann.change_role(Role.USER, START, admins=0, acting=None)
        await uow.users.update(ann)
        await uow.commit()
    found = await credentials.session_with_user(hash_token("raw-session"))
    assert found is not None
    assert found[1].role is Role.USER


async def test_sessions_are_revoked_all_at_once_and_purged(db: AsyncEngine) -> None:
    ann, bob = user("ann@example.org"), user("bob@example.org")
    await add_users(db, ann, bob)
    async with SqlIdentityUnitOfWork(db) as uow:
        for n in range(3):
            await uow.sessions.add(Session.open(uuid4(), hash_token(f"a{n}"), ann.id, START, timedelta(hours=1)))
        await uow.sessions.add(Session.open(uuid4(), hash_token("old"), ann.id, START, timedelta(minutes=1)))
        await uow.sessions.add(Session.open(uuid4(), hash_token("b"), bob.id, START, timedelta(hours=1)))
        await uow.commit()
    now = START + timedelta(minutes=5)
    async with SqlIdentityUnitOfWork(db) as uow:
        assert await uow.sessions.revoke_all(ann.id, now) == 3  # the expired one is not counted
        await uow.commit()
    async with SqlIdentityUnitOfWork(db) as uow:
        revoked = await uow.sessions.by_token_hash(hash_token("a0"))
        assert revoked is not None
        assert revoked.revoked_at == now
        assert await uow.sessions.purge(now) == 4
        await uow.commit()
    assert await SqlCredentialStore(db).session_with_user(hash_token("b")) is not None


async def test_uncommitted_work_is_rolled_back(db: AsyncEngine) -> None:
    async with SqlIdentityUnitOfWork(db) as uow:
        await uow.users.add(user("ghost@example.org"))
    async with SqlIdentityUnitOfWork(db) as uow:
        assert not await uow.users.exists_any()


async def test_tokens_and_attempts_round_trip_and_purge(db: AsyncEngine) -> None:
    first = ApiToken.issue(uuid4(), "first", hash_token("kt1"), Role.USER, START, None)
    second = ApiToken.issue(uuid4(), "second", hash_token("kt2"), Role.ADMIN, START + timedelta(seconds=1), None)
    async with SqlIdentityUnitOfWork(db) as uow:
        await uow.tokens.add(first)
        await uow.tokens.add(second)
        for days in (0, 40):
            await uow.attempts.record(
                LoginAttempt(AttemptKind.OTP_VERIFY, AttemptReason.WRONG_CODE, START + timedelta(days=days))
            )
        await uow.commit()
    async with SqlIdentityUnitOfWork(db) as uow:
        assert [t.name for t in await uow.tokens.listing()] == ["second", "first"]
        got = await uow.tokens.get(first.id)
        got.revoke(START)
        await uow.tokens.update(got)
        with pytest.raises(ApiTokenNotFoundError):
            await uow.tokens.get(uuid4())
        assert await uow.attempts.purge(START + timedelta(days=30)) == 1
        await uow.commit()
    stored = await SqlCredentialStore(db).api_token(hash_token("kt1"))
    assert stored is not None
    assert (stored.revoked_at, stored.role) == (START, Role.USER)


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(db: AsyncEngine) -> None:
    ann, bob = user("ann@example.org", Role.ADMIN), user("bob@example.org", Role.ADMIN)
    await add_users(db, ann, bob)
    update = UpdateUser(lambda: SqlIdentityUnitOfWork(db), EmailValidatorSyntax(), FakeClock())

    def by(who: User) -> Principal:
        return Principal(PrincipalKind.SESSION, Role.ADMIN, who.id, who.email)

    results = await asyncio.gather(
        update(bob.id, None, Role.USER, by(ann)), update(ann.id, None, Role.USER, by(bob)), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["LastAdminError", "User"]
    async with SqlIdentityUnitOfWork(db) as uow:
        assert await uow.users.count_admins() == 1
    assert any(isinstance(r, LastAdminError) for r in results)


async def test_parallel_guesses_never_get_more_than_max_attempts(db: AsyncEngine) -> None:
    await add_users(db, user("ann@example.org"))
    clock, secrets = FakeClock(), CountingSecrets()
    policy = IdentityPolicy(
        otp=OtpPolicy(max_attempts=3),
        secret_key=b"k" * 32,
        verify_per_address=RateLimit(1000, 60),
    )
    counter = itertools.count(1)
    new_id = lambda: UUID(int=next(counter))  # noqa: E731
    uow = lambda: SqlIdentityUnitOfWork(db)  # noqa: E731
    limiter = MemoryRateLimiter(clock)
    start = StartOtp(uow, EmailValidatorSyntax(), limiter, MemoryMailer(), secrets, policy, clock, new_id)
    verify = VerifyOtp(uow, limiter, secrets, policy, clock, new_id)
    token = await start("ann@example.org", "192.0.2.1")
    results = await asyncio.gather(*(verify(token, "WRONGXYZ", "192.0.2.1") for _ in range(10)), return_exceptions=True)
    reasons = [r.reason for r in results if isinstance(r, ChallengeRefusedError)]
    assert reasons.count(ChallengeRefusal.WRONG_CODE) == 3
    assert reasons.count(ChallengeRefusal.EXHAUSTED) == 7
    with pytest.raises(ChallengeRefusedError) as refused:
        await verify(token, secrets.issued[0], "192.0.2.1")
    assert refused.value.reason is ChallengeRefusal.EXHAUSTED


async def test_an_unreachable_database_is_unavailable_not_an_error(postgres_server: object) -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody:x@127.0.0.1:9/none", connect_args={"timeout": 2})
    try:
        with pytest.raises(DatabaseUnavailableError):
            async with SqlIdentityUnitOfWork(engine):
                pass
        with pytest.raises(DatabaseUnavailableError):
            await SqlCredentialStore(engine).api_token("h")
    finally:
        await engine.dispose()
