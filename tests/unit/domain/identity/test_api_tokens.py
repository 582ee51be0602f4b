"""API tokens need a name and stay revoked."""

from __future__ import annotations

from uuid import UUID

import pytest

from kartoteka.domain.identity.api_tokens import ApiToken, InvalidTokenNameError
from kartoteka.domain.identity.roles import Role
from tests.fakes.shared import START

ANN = UUID(int=1)


def test_api_tokens_need_a_name_and_stay_revoked() -> None:
    with pytest.raises(InvalidTokenNameError):
        ApiToken.issue(UUID(int=9), "  ", "h", Role.USER, START, None)
    t = ApiToken.issue(UUID(int=9), " backup script ", "h", Role.EDITOR, START, ANN)
    assert t.name == "backup script"
    assert t.active
    t.revoke(START)
    assert not t.active
