"""A user: an email address that may log in, and the role it acts with.

The rules that keep the archive administrable live here: there is always at
least one admin (the last one can be neither deleted nor demoted), and an
admin cannot delete or demote themselves (a slip of the mouse would otherwise
lock them out, with nobody left to undo it when they were the only one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.identity.emails import normalize_email
from kartoteka.domain.identity.roles import Role


class LastAdminError(Refusal):
    """The change would leave the archive without an admin."""

    kind = ErrorKind.CONFLICT


class SelfLockoutError(Refusal):
    """An admin tried to delete or demote their own account."""

    kind = ErrorKind.CONFLICT


@dataclass(eq=False)
class User:
    id: UUID
    email: str
    role: Role
    created_at: datetime
    updated_at: datetime

    @classmethod
    def register(cls, user_id: UUID, email: str, role: Role, now: datetime) -> User:
        return cls(id=user_id, email=normalize_email(email), role=role, created_at=now, updated_at=now)

    def change_email(self, email: str, now: datetime) -> None:
        email = normalize_email(email)
        if email != self.email:
            self.email = email
            self.updated_at = now

    def change_role(self, role: Role, now: datetime, *, admins: int, acting: UUID | None) -> None:
        """``admins`` is how many admins there are now, this user included when it is one.

        ``acting`` is the user making the change (None for a script's API token): they may
        give themselves nothing, but only another admin can take their admin role away.
        """
        if role is self.role:
            return
        if self.role is Role.ADMIN:
            if acting == self.id:
                raise SelfLockoutError("you cannot remove your own admin role; ask another admin")
            if admins <= 1:
                raise LastAdminError(f"{self.email} is the last admin; make someone else admin first")
        self.role = role
        self.updated_at = now

    def check_deletable(self, *, admins: int, acting: UUID | None) -> None:
        if acting == self.id:
            raise SelfLockoutError("you cannot delete your own account; ask another admin")
        if self.role is Role.ADMIN and admins <= 1:
            raise LastAdminError(f"{self.email} is the last admin; make someone else admin first")
