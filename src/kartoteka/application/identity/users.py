"""Managing users (admins only): list, read, create, change, delete; and the default admin.

Every email is checked and stored in one normalised form; ids are chosen by
the server, never by the client. Role changes and deletions of
admins count the admins with their rows locked, so two admins demoting each
other at the same moment cannot leave the archive with none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from uuid import UUID

from kartoteka.application.identity.errors import EmailTakenError, UserAlreadyExistsError
from kartoteka.application.identity.policy import IdentityPolicy
from kartoteka.application.identity.ports import (
    EmailSyntax,
    IdentityUnitOfWork,
    UserConflictError,
    UserFilter,
    UserPage,
)
from kartoteka.application.shared.clock import Clock, NewId
from kartoteka.domain.identity.principal import Principal
from kartoteka.domain.identity.roles import Role
from kartoteka.domain.identity.users import User

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000


class ListUsers:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, where: UserFilter, page: int, page_size: int) -> UserPage:
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page must be at least 1 and page_size 1 to {MAX_PAGE_SIZE}")
        contains = (where.email_contains or "").strip().lower() or None
        async with self._uow() as uow:
            return await uow.users.listing(
                UserFilter(email_contains=contains, role=where.role), (page - 1) * page_size, page_size
            )


class GetUser:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID) -> User:
        """Raises UserNotFoundError."""
        async with self._uow() as uow:
            return await uow.users.get(user_id)


class CreateUser:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], emails: EmailSyntax, clock: Clock, new_id: NewId) -> None:
        self._uow = uow
        self._emails = emails
        self._clock = clock
        self._new_id = new_id

    async def __call__(self, email: str, role: Role, by: Principal) -> User:
        """Raises InvalidEmailError, UserAlreadyExistsError."""
        user = User.register(self._new_id(), self._emails.normalize(email), role, self._clock())
        try:
            async with self._uow() as uow:
                await uow.users.add(user)
                await uow.commit()
        except UserConflictError:
            raise UserAlreadyExistsError from None
        log.info("user %s created as %s by %s", user.id, user.role.value, _who(by))
        return user


class UpdateUser:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], emails: EmailSyntax, clock: Clock) -> None:
        self._uow = uow
        self._emails = emails
        self._clock = clock

    async def __call__(self, user_id: UUID, email: str | None, role: Role | None, by: Principal) -> User:
        """Raises UserNotFoundError, InvalidEmailError, EmailTakenError, LastAdminError, SelfLockoutError."""
        address = self._emails.normalize(email) if email is not None else None
        try:
            async with self._uow() as uow:
                now = self._clock()
                admins = await uow.users.count_admins() if role is not None and role is not Role.ADMIN else 0
                user = await uow.users.get(user_id, lock=True)
                before = user.role
                if address is not None:
                    user.change_email(address, now)
                if role is not None:
                    user.change_role(role, now, admins=admins, acting=by.user_id)
                await uow.users.update(user)
                await uow.commit()
        except UserConflictError:
            raise EmailTakenError from None
        if user.role is not before:
            log.info("user %s changed from %s to %s by %s", user.id, before.value, user.role.value, _who(by))
        return user


class DeleteUser:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID, by: Principal) -> User:
        """Raises UserNotFoundError, LastAdminError, SelfLockoutError."""
        async with self._uow() as uow:
            admins = await uow.users.count_admins()
            user = await uow.users.get(user_id, lock=True)
            user.check_deletable(admins=admins, acting=by.user_id)
            await uow.users.delete(user.id)
            await uow.commit()
        log.info("user %s deleted by %s", user.id, _who(by))
        return user


class EnsureDefaultAdmin:
    """At start-up in OTP mode: with no user at all, nobody could ever log in, so the configured
    address becomes the first admin. Several api replicas starting at once all try; one wins."""

    def __init__(
        self,
        uow: Callable[[], IdentityUnitOfWork],
        emails: EmailSyntax,
        policy: IdentityPolicy,
        clock: Clock,
        new_id: NewId,
    ) -> None:
        self._uow = uow
        self._emails = emails
        self._policy = policy
        self._clock = clock
        self._new_id = new_id

    async def __call__(self) -> User | None:
        """The admin created, or None when there were users already (or no address is configured)."""
        if not self._policy.enabled:
            return None
        async with self._uow() as uow:
            if await uow.users.exists_any():
                return None
            email = self._policy.default_admin_email
            if email is None:
                log.warning(
                    "authentication is on but there are no users and auth.default_user_email is not set: "
                    "nobody can log in"
                )
                return None
            admin = User.register(self._new_id(), self._emails.normalize(email), Role.ADMIN, self._clock())
            try:
                await uow.users.add(admin)
                await uow.commit()
            except UserConflictError:  # another replica created it first
                return None
        log.warning("no users existed: created the default admin %s (id %s)", admin.email, admin.id)
        return admin


def _who(by: Principal) -> str:
    if by.user_id is not None:
        return f"user {by.user_id}"
    if by.token_id is not None:
        return f"API token {by.token_id}"
    return by.kind.value
