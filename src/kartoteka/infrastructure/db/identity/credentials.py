"""SqlCredentialStore: the look-ups behind every guarded request, one indexed statement each."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.domain.identity.api_tokens import ApiToken
from kartoteka.domain.identity.challenges import OtpChallenge
from kartoteka.domain.identity.sessions import Session
from kartoteka.domain.identity.users import User
from kartoteka.infrastructure.db.connection import connected
from kartoteka.infrastructure.db.identity.rows import (
    challenge_from_row,
    session_from_row,
    token_from_row,
    user_from_row,
)
from kartoteka.infrastructure.db.schema import api_tokens, otp_challenges, sessions, users


class SqlCredentialStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def session_with_user(self, token_hash: str) -> tuple[Session, User] | None:
        # The user's row is read with the session, so a changed role counts from the next request.
        s = sessions.alias("s")
        query = (
            select(users, *(c.label(f"s_{c.name}") for c in s.c))
            .join_from(s, users, users.c.id == s.c.user_id)
            .where(s.c.token_hash == token_hash)
        )
        async with connected(self._engine) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return session_from_row(row, prefix="s_"), user_from_row(row)

    async def api_token(self, token_hash: str) -> ApiToken | None:
        async with connected(self._engine) as conn:
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.token_hash == token_hash))).first()
        return None if row is None else token_from_row(row)

    async def challenge(self, token_hash: str) -> OtpChallenge | None:
        async with connected(self._engine) as conn:
            row = (await conn.execute(select(otp_challenges).where(otp_challenges.c.token_hash == token_hash))).first()
        return None if row is None else challenge_from_row(row)
