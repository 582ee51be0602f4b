"""CreateApiToken, ListApiTokens and RevokeApiToken with in-memory ports."""

from __future__ import annotations

from kartoteka.application.identity.sessions import SessionState
from kartoteka.domain.identity.principal import PrincipalKind
from kartoteka.domain.identity.roles import Role
from tests.unit.application.identity.world import SYSTEM, World


async def test_api_tokens_carry_a_role_are_stored_hashed_and_can_be_revoked(world: World) -> None:
    issued = await world.create_token("nightly export", Role.EDITOR, SYSTEM)
    assert issued.raw.startswith("kt_")
    assert issued.raw not in repr(world.store.state)
    who = await world.authenticate(None, issued.raw)
    assert (who.kind, who.role, who.token_id) == (PrincipalKind.API_TOKEN, Role.EDITOR, issued.token.id)
    session = await world.login("root@example.org")
    assert not (await world.authenticate(session, "kt_wrong")).authenticated  # a bad bearer never falls back
    view = await world.session(None, session, "kt_wrong")
    assert (view.state, view.clear_session) == (SessionState.ANONYMOUS, False)  # nor costs the cookie
    await world.revoke_token(issued.token.id, SYSTEM)
    assert not (await world.authenticate(None, issued.raw)).authenticated
    assert [t.revoked_at is not None for t in await world.list_tokens()] == [True]
