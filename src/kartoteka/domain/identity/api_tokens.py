"""An API token: a role for a script or another service, sent as ``Authorization: Bearer``.

It belongs to no user session and no browser, so it carries its own role,
chosen by the admin who created it, and lives until an admin revokes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from kartoteka.domain.errors import Refusal
from kartoteka.domain.identity.roles import Role
from kartoteka.domain.text import plain_text

MAX_TOKEN_NAME_LENGTH = 200


class InvalidTokenNameError(Refusal, ValueError):
    """A token needs a short name that says what uses it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"field": "name"})


@dataclass(eq=False)
class ApiToken:
    id: UUID
    name: str
    token_hash: str
    role: Role
    created_at: datetime
    created_by: UUID | None = None
    revoked_at: datetime | None = None

    @classmethod
    def issue(
        cls, token_id: UUID, name: str, token_hash: str, role: Role, now: datetime, created_by: UUID | None
    ) -> ApiToken:
        name = plain_text(name, "name").strip()
        if not name or len(name) > MAX_TOKEN_NAME_LENGTH:
            raise InvalidTokenNameError(f"a token's name must be 1 to {MAX_TOKEN_NAME_LENGTH} characters")
        return cls(id=token_id, name=name, token_hash=token_hash, role=role, created_at=now, created_by=created_by)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now
