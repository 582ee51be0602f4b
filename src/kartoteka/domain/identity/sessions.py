"""A login session: what the ``session_token`` cookie stands for, until it expires or is revoked.

Revocation is server-side: logging out must end the session for whoever holds
a copy of the cookie, not merely ask the browser to forget it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID


@dataclass(eq=False)
class Session:
    id: UUID
    token_hash: str
    user_id: UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    @classmethod
    def open(cls, session_id: UUID, token_hash: str, user_id: UUID, now: datetime, ttl: timedelta) -> Session:
        return cls(id=session_id, token_hash=token_hash, user_id=user_id, created_at=now, expires_at=now + ttl)

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now
