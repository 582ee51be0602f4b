"""Who is calling: what every guarded route decides on.

A caller is anonymous, a user with a session, a script with an API token, or
anyone at all when the service runs without authentication (then everyone is
an admin, as in the seed's ``auth.kind: none``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from kartoteka.domain.identity.roles import Role


class PrincipalKind(StrEnum):
    ANONYMOUS = "anonymous"
    SESSION = "session"
    API_TOKEN = "api_token"
    OPEN = "open"  # no authentication configured


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    role: Role | None = None
    user_id: UUID | None = None
    email: str | None = None
    session_id: UUID | None = None
    token_id: UUID | None = None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(PrincipalKind.ANONYMOUS)

    @classmethod
    def open_admin(cls) -> Principal:
        return cls(PrincipalKind.OPEN, Role.ADMIN)

    @property
    def authenticated(self) -> bool:
        return self.role is not None

    def may(self, needed: Role) -> bool:
        return self.role is not None and self.role.at_least(needed)
