"""SqlIdentityUnitOfWork: identity writes in one transaction, with the row locks the rules rely on."""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kartoteka.application.identity.ports import (
    ApiTokenNotFoundError,
    UserConflictError,
    UserFilter,
    UserNotFoundError,
    UserPage,
)
from kartoteka.domain.identity.api_tokens import ApiToken
from kartoteka.domain.identity.attempts import LoginAttempt
from kartoteka.domain.identity.challenges import OtpChallenge
from kartoteka.domain.identity.roles import Role
from kartoteka.domain.identity.sessions import Session
from kartoteka.domain.identity.users import User
from kartoteka.infrastructure.db.identity.rows import (
    attempt_to_row,
    challenge_from_row,
    challenge_to_row,
    session_from_row,
    session_to_row,
    token_from_row,
    token_to_row,
    user_from_row,
    user_to_row,
)
from kartoteka.infrastructure.db.schema import api_tokens, login_attempts, otp_challenges, sessions, users
from kartoteka.infrastructure.db.transaction import SqlTransaction, like_pattern


class SqlUserRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, user: User) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(users).values(**user_to_row(user)))
        except IntegrityError as exc:
            raise UserConflictError(user.email) from exc

    async def get(self, user_id: UUID, *, lock: bool = False) -> User:
        query = select(users).where(users.c.id == user_id)
        row = (await self._conn.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            raise UserNotFoundError(user_id)
        return user_from_row(row)

    async def by_email(self, email: str) -> User | None:
        row = (await self._conn.execute(select(users).where(users.c.email == email))).first()
        return None if row is None else user_from_row(row)

    async def update(self, user: User) -> None:
        values = user_to_row(user)
        del values["id"], values["created_at"]
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(update(users).where(users.c.id == user.id).values(**values))
        except IntegrityError as exc:
            raise UserConflictError(user.email) from exc

    async def delete(self, user_id: UUID) -> None:
        await self._conn.execute(delete(users).where(users.c.id == user_id))

    async def count_admins(self) -> int:
        # Locked in id order, so concurrent role changes queue up instead of deadlocking.
        rows = await self._conn.execute(
            select(users.c.id).where(users.c.role == Role.ADMIN.value).order_by(users.c.id).with_for_update()
        )
        return len(rows.all())

    async def exists_any(self) -> bool:
        return (await self._conn.execute(select(select(users.c.id).exists()))).scalar_one()

    async def listing(self, where: UserFilter, offset: int, limit: int) -> UserPage:
        conditions: list[ColumnElement[bool]] = []
        if where.email_contains:
            conditions.append(users.c.email.ilike(like_pattern(where.email_contains), escape="\\"))
        if where.role is not None:
            conditions.append(users.c.role == where.role.value)
        total = (await self._conn.execute(select(func.count()).select_from(users).where(*conditions))).scalar_one()
        rows = await self._conn.execute(
            select(users).where(*conditions).order_by(users.c.email, users.c.id).offset(offset).limit(limit)
        )
        return UserPage([user_from_row(r) for r in rows], total)


class SqlChallengeRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, challenge: OtpChallenge) -> None:
        await self._conn.execute(insert(otp_challenges).values(**challenge_to_row(challenge)))

    async def by_token_hash(self, token_hash: str) -> OtpChallenge | None:
        row = (
            await self._conn.execute(
                select(otp_challenges).where(otp_challenges.c.token_hash == token_hash).with_for_update()
            )
        ).first()
        return None if row is None else challenge_from_row(row)

    async def update(self, challenge: OtpChallenge) -> None:
        await self._conn.execute(
            update(otp_challenges)
            .where(otp_challenges.c.id == challenge.id)
            .values(attempts=challenge.attempts, consumed_at=challenge.consumed_at)
        )

    async def purge(self, now: datetime) -> int:
        result = await self._conn.execute(delete(otp_challenges).where(otp_challenges.c.expires_at <= now))
        return result.rowcount


class SqlSessionRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, session: Session) -> None:
        await self._conn.execute(insert(sessions).values(**session_to_row(session)))

    async def by_token_hash(self, token_hash: str) -> Session | None:
        row = (await self._conn.execute(select(sessions).where(sessions.c.token_hash == token_hash))).first()
        return None if row is None else session_from_row(row)

    async def update(self, session: Session) -> None:
        await self._conn.execute(
            update(sessions)
            .where(sessions.c.id == session.id)
            .values(expires_at=session.expires_at, revoked_at=session.revoked_at)
        )

    async def revoke_all(self, user_id: UUID, now: datetime) -> int:
        result = await self._conn.execute(
            update(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None), sessions.c.expires_at > now)
            .values(revoked_at=now)
        )
        return result.rowcount

    async def purge(self, now: datetime) -> int:
        result = await self._conn.execute(
            delete(sessions).where(or_(sessions.c.expires_at <= now, sessions.c.revoked_at.is_not(None)))
        )
        return result.rowcount


class SqlApiTokenRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, token: ApiToken) -> None:
        await self._conn.execute(insert(api_tokens).values(**token_to_row(token)))

    async def get(self, token_id: UUID) -> ApiToken:
        row = (await self._conn.execute(select(api_tokens).where(api_tokens.c.id == token_id))).first()
        if row is None:
            raise ApiTokenNotFoundError(token_id)
        return token_from_row(row)

    async def update(self, token: ApiToken) -> None:
        await self._conn.execute(
            update(api_tokens).where(api_tokens.c.id == token.id).values(name=token.name, revoked_at=token.revoked_at)
        )

    async def listing(self) -> list[ApiToken]:
        rows = await self._conn.execute(select(api_tokens).order_by(api_tokens.c.created_at.desc(), api_tokens.c.id))
        return [token_from_row(r) for r in rows]


class SqlLoginAttemptLog:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def record(self, attempt: LoginAttempt) -> None:
        await self._conn.execute(insert(login_attempts).values(**attempt_to_row(attempt)))

    async def purge(self, before: datetime) -> int:
        result = await self._conn.execute(delete(login_attempts).where(login_attempts.c.occurred_at < before))
        return result.rowcount


class SqlIdentityUnitOfWork(SqlTransaction):
    users: SqlUserRepository
    challenges: SqlChallengeRepository
    sessions: SqlSessionRepository
    tokens: SqlApiTokenRepository
    attempts: SqlLoginAttemptLog

    async def __aenter__(self) -> Self:
        conn = await self._begin()
        self.users = SqlUserRepository(conn)
        self.challenges = SqlChallengeRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        self.tokens = SqlApiTokenRepository(conn)
        self.attempts = SqlLoginAttemptLog(conn)
        return self

    async def commit(self) -> None:
        assert self._conn is not None
        await self._conn.commit()
