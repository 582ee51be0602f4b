"""The users admin with in-memory ports: the default admin, listing, creating, updating, deleting."""

from __future__ import annotations

from uuid import UUID

import pytest

from kartoteka.application.identity.errors import EmailTakenError, UserAlreadyExistsError
from kartoteka.application.identity.policy import IdentityPolicy
from kartoteka.application.identity.ports import UserFilter, UserNotFoundError
from kartoteka.domain.identity.emails import InvalidEmailError
from kartoteka.domain.identity.roles import Role
from kartoteka.domain.identity.users import LastAdminError, SelfLockoutError, User
from tests.unit.application.identity.world import SYSTEM, World


async def test_the_default_admin_is_created_once_and_only_when_nobody_exists(world: World) -> None:
    users = await world.list_users(UserFilter(), 1, 10)
    assert [(u.email, u.role) for u in users.users] == [("root@example.org", Role.ADMIN)]
    assert await world.default_admin() is None
    assert (await world.list_users(UserFilter(), 1, 10)).total == 1


async def test_no_default_admin_without_authentication_or_an_address() -> None:
    assert await World(IdentityPolicy(enabled=False, default_admin_email="a@example.org")).default_admin() is None
    assert await World(IdentityPolicy(default_admin_email=None)).default_admin() is None


async def test_users_are_listed_with_filters_and_a_filtered_total(world: World) -> None:
    for n in range(7):
        await world.create_user(f"reader{n}@example.org", Role.USER, SYSTEM)
    await world.create_user("writer@example.org", Role.EDITOR, SYSTEM)
    page = await world.list_users(UserFilter(email_contains="READER"), 2, 3)
    assert page.total == 7
    assert [u.email for u in page.users] == [f"reader{n}@example.org" for n in (3, 4, 5)]
    assert (await world.list_users(UserFilter(role=Role.EDITOR), 1, 10)).total == 1
    assert (await world.list_users(UserFilter(email_contains="er", role=Role.USER), 1, 2)).total == 7
    with pytest.raises(ValueError, match="page"):
        await world.list_users(UserFilter(), 0, 10)


async def test_creating_users_validates_and_normalises_emails(world: World) -> None:
    user = await world.create_user(" Ann@Example.ORG", Role.EDITOR, SYSTEM)
    assert user.email == "ann@example.org"
    assert (await world.get_user(user.id)).role is Role.EDITOR
    with pytest.raises(UserAlreadyExistsError):
        await world.create_user("ANN@example.org", Role.USER, SYSTEM)
    with pytest.raises(InvalidEmailError):
        await world.create_user("ann", Role.USER, SYSTEM)
    with pytest.raises(UserNotFoundError):
        await world.get_user(UUID(int=1))


async def test_updating_a_user_changes_email_and_role_and_refuses_a_taken_email(world: World) -> None:
    ann = await world.create_user("ann@example.org", Role.USER, SYSTEM)
    await world.create_user("bob@example.org", Role.USER, SYSTEM)
    ann = await world.update_user(ann.id, "Anna@Example.org", Role.EDITOR, SYSTEM)
    assert (ann.email, ann.role) == ("anna@example.org", Role.EDITOR)
    with pytest.raises(EmailTakenError):
        await world.update_user(ann.id, "bob@example.org", None, SYSTEM)
    with pytest.raises(UserNotFoundError):
        await world.update_user(UUID(int=1), None, Role.USER, SYSTEM)


async def test_the_last_admin_survives_every_attempt(world: World) -> None:
    root = (await world.list_users(UserFilter(), 1, 1)).users[0]
    with pytest.raises(LastAdminError):
        await world.update_user(root.id, None, Role.EDITOR, SYSTEM)
    with pytest.raises(LastAdminError):
        await world.delete_user(root.id, SYSTEM)
    me = await world.authenticate(await world.login("root@example.org"), None)
    with pytest.raises(SelfLockoutError):
        await world.delete_user(root.id, me)
    ann = await world.create_user("ann@example.org", Role.ADMIN, me)
    with pytest.raises(SelfLockoutError):
        await world.update_user(root.id, None, Role.USER, me)
    await world.update_user(root.id, None, Role.USER, await world.authenticate(await world.login(ann.email), None))
    assert (await world.get_user(root.id)).role is Role.USER
    with pytest.raises(LastAdminError):
        await world.update_user(ann.id, None, Role.USER, SYSTEM)


async def test_users_that_do_not_exist_cannot_be_deleted(world: World) -> None:
    with pytest.raises(UserNotFoundError):
        await world.delete_user(UUID(int=5), SYSTEM)
    assert isinstance((await world.list_users(UserFilter(), 1, 1)).users[0], User)
