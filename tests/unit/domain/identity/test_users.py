"""Users: the last admin and self-lockout rules of role changes and deletion."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from kartoteka.domain.identity.roles import Role
from kartoteka.domain.identity.users import LastAdminError, SelfLockoutError, User
from tests.fakes.shared import START

ANN, BOB = UUID(int=1), UUID(int=2)


def test_the_last_admin_can_be_neither_demoted_nor_deleted() -> None:
    ann = User.register(ANN, "ann@example.com", Role.ADMIN, START)
    with pytest.raises(LastAdminError):
        ann.change_role(Role.EDITOR, START, admins=1, acting=None)
    with pytest.raises(LastAdminError):
        ann.check_deletable(admins=1, acting=BOB)
    ann.change_role(Role.EDITOR, START + timedelta(seconds=1), admins=2, acting=BOB)
    assert ann.role is Role.EDITOR
    assert ann.updated_at > ann.created_at


def test_an_admin_cannot_lock_themselves_out_even_with_other_admins() -> None:
    ann = User.register(ANN, "ann@example.com", Role.ADMIN, START)
    with pytest.raises(SelfLockoutError):
        ann.change_role(Role.USER, START, admins=3, acting=ANN)
    with pytest.raises(SelfLockoutError):
        ann.check_deletable(admins=3, acting=ANN)
    ann.change_role(Role.ADMIN, START, admins=1, acting=ANN)  # no change is always fine


def test_promotions_and_non_admins_need_no_admin_count() -> None:
    bob = User.register(BOB, "bob@example.com", Role.USER, START)
    bob.change_role(Role.ADMIN, START, admins=0, acting=ANN)
    assert bob.role is Role.ADMIN
    User.register(ANN, "ann@example.com", Role.EDITOR, START).check_deletable(admins=0, acting=BOB)
