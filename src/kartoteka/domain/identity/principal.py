"""Who is calling: what every guarded route decides on.

A caller is anonymous, a user with a session, a script with an API token, or
anyone at all when the service runs without authentication (with
``auth.kind: none`` everyone is an admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from kartoteka.domain.identity.roles import Role

# Who changed something when nobody can be told apart (authentication off).
ANONYMOUS_AUTHOR = "anonymous"


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
    token_name: str | None = None
    open_name: str = ANONYMOUS_AUTHOR

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(PrincipalKind.ANONYMOUS)

    @classmethod
    def open_admin(cls, name: str = ANONYMOUS_AUTHOR) -> Principal:
        """Anyone, when no authentication is configured; ``name`` is who they are said to be."""
        return cls(PrincipalKind.OPEN, Role.ADMIN, open_name=name)

    @property
    def name(self) -> str:
        """Who made a change, as the archive records it: the user's email, the API token's name, or
        the configured name of everyone when authentication is off."""
        if self.email is not None:
            return self.email
        if self.token_name is not None:
            return f"token:{self.token_name}"
        return self.open_name

    @property
    def authenticated(self) -> bool:
        return self.role is not None

    def may(self, needed: Role) -> bool:
        return self.role is not None and self.role.at_least(needed)
