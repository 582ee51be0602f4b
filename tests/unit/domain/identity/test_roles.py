"""Roles: ordered by rank, parsed forgivingly."""

from __future__ import annotations

import pytest

from kartoteka.domain.identity.roles import Role, UnknownRoleError, parse_role


def test_roles_are_ordered_by_rank_not_by_spelling() -> None:
    assert Role.USER < Role.EDITOR < Role.ADMIN
    assert sorted([Role.ADMIN, Role.USER, Role.EDITOR]) == [Role.USER, Role.EDITOR, Role.ADMIN]
    assert Role.ADMIN >= Role.EDITOR
    assert Role.EDITOR > Role.USER
    assert Role.USER <= Role.USER
    assert Role.EDITOR.at_least(Role.USER)
    assert not Role.EDITOR.at_least(Role.ADMIN)
    assert max(Role) is Role.ADMIN
    assert Role.ADMIN == "admin"  # still a string for storage and JSON
    with pytest.raises(TypeError):
        assert Role.USER < "editor"  # alphabetically true, by rank meaningless: refused
    with pytest.raises(TypeError):
        sorted(["user", Role.ADMIN])  # the string on the left: still refused


def test_role_names_are_parsed_forgivingly_and_unknown_ones_refused() -> None:
    assert parse_role(" Editor ") is Role.EDITOR
    with pytest.raises(UnknownRoleError):
        parse_role("root")
