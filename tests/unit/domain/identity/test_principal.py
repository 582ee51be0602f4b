"""What a principal may do."""

from __future__ import annotations

from kartoteka.domain.identity.principal import Principal
from kartoteka.domain.identity.roles import Role


def test_principals_know_what_they_may_do() -> None:
    assert Principal.open_admin().may(Role.ADMIN)
    assert not Principal.anonymous().may(Role.USER)
    assert not Principal.anonymous().authenticated
