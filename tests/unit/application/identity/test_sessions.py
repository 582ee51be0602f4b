"""Authenticate, GetSession, Logout, LogoutEverywhere and PurgeExpired with in-memory ports."""

from __future__ import annotations

import pytest

from kartoteka.application.identity.errors import AuthenticationRequiredError
from kartoteka.application.identity.policy import IdentityPolicy
from kartoteka.application.identity.sessions import SessionState
from kartoteka.domain.identity.principal import Principal, PrincipalKind
from kartoteka.domain.identity.roles import Role
from tests.unit.application.identity.world import SYSTEM, World


async def test_logout_revokes_the_session_server_side(world: World) -> None:
    token = await world.login("root@example.org")
    other = await world.login("root@example.org")
    assert await world.logout(token) is True
    assert not (await world.authenticate(token, None)).authenticated
    assert (await world.authenticate(other, None)).authenticated
    assert await world.logout(token) is False
    view = await world.session(None, token, None)
    assert (view.state, view.clear_session) == (SessionState.ANONYMOUS, True)


async def test_logout_everywhere_ends_every_session_of_the_user(world: World) -> None:
    tokens = [await world.login("root@example.org") for _ in range(3)]
    await world.create_user("ed@example.org", Role.EDITOR, SYSTEM)
    eds = await world.login("ed@example.org")
    assert await world.logout_everywhere(await world.authenticate(tokens[0], None)) == 3
    assert [(await world.authenticate(t, None)).authenticated for t in tokens] == [False] * 3
    assert (await world.authenticate(eds, None)).authenticated
    with pytest.raises(AuthenticationRequiredError):
        await world.logout_everywhere(Principal.anonymous())


async def test_a_session_expires_by_the_clock(world: World) -> None:
    token = await world.login("root@example.org")
    world.clock.advance(hours=8)
    assert not (await world.authenticate(token, None)).authenticated


async def test_purge_deletes_what_can_never_be_used_again(world: World) -> None:
    kept = await world.login("root@example.org")
    gone = await world.login("root@example.org")
    await world.logout(gone)
    assert (await world.purge()).sessions == 1
    world.clock.advance(days=31)
    purged = await world.purge()
    assert (purged.challenges, purged.sessions, purged.attempts) == (2, 1, 4)
    assert not (await world.authenticate(kept, None)).authenticated


async def test_roles_come_from_the_user_row_now_not_from_login_time(world: World) -> None:
    root = await world.authenticate(await world.login("root@example.org"), None)
    ann = await world.create_user("ann@example.org", Role.ADMIN, root)
    ann_session = await world.login("ann@example.org")
    await world.update_user(ann.id, None, Role.USER, root)
    assert (await world.authenticate(ann_session, None)).role is Role.USER
    await world.delete_user(ann.id, root)
    assert not (await world.authenticate(ann_session, None)).authenticated


async def test_without_authentication_everyone_is_an_admin() -> None:
    world = World(IdentityPolicy(enabled=False))
    who = await world.authenticate(None, None)
    assert (who.kind, who.role) == (PrincipalKind.OPEN, Role.ADMIN)
    view = await world.session(None, None, None)
    assert (view.state, view.principal.role) == (SessionState.AUTHENTICATED, Role.ADMIN)
