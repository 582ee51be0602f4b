"""API tokens for scripts and other services: created and revoked by admins, shown once.

The raw token is returned by ``CreateApiToken`` and nowhere else: only its
hash is stored, so a lost token is revoked and replaced, never recovered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from kartoteka.application.identity.policy import SecretSource
from kartoteka.application.identity.ports import IdentityUnitOfWork
from kartoteka.application.shared.clock import Clock, NewId
from kartoteka.domain.identity.api_tokens import ApiToken
from kartoteka.domain.identity.digests import hash_token
from kartoteka.domain.identity.principal import Principal
from kartoteka.domain.identity.roles import Role

log = logging.getLogger(__name__)

TOKEN_PREFIX = "kt_"  # makes a leaked token recognisable to secret scanners and to people


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: ApiToken
    raw: str


class CreateApiToken:
    def __init__(
        self,
        uow: Callable[[], IdentityUnitOfWork],
        secrets: SecretSource,
        clock: Clock,
        new_id: NewId,
    ) -> None:
        self._uow = uow
        self._secrets = secrets
        self._clock = clock
        self._new_id = new_id

    async def __call__(self, name: str, role: Role, by: Principal) -> IssuedToken:
        """Raises InvalidTokenNameError."""
        raw = TOKEN_PREFIX + self._secrets.token()
        token = ApiToken.issue(self._new_id(), name, hash_token(raw), role, self._clock(), by.user_id)
        async with self._uow() as uow:
            await uow.tokens.add(token)
            await uow.commit()
        log.info("API token %s (%s) created by %s", token.id, token.role.value, by.user_id or by.kind.value)
        return IssuedToken(token, raw)


class ListApiTokens:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self) -> list[ApiToken]:
        async with self._uow() as uow:
            return await uow.tokens.listing()


class RevokeApiToken:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, token_id: UUID, by: Principal) -> ApiToken:
        """Raises ApiTokenNotFoundError; revoking a revoked token changes nothing."""
        async with self._uow() as uow:
            token = await uow.tokens.get(token_id)
            token.revoke(self._clock())
            await uow.tokens.update(token)
            await uow.commit()
        log.info("API token %s revoked by %s", token.id, by.user_id or by.token_id or by.kind.value)
        return token
