"""Sessions end at expiry or revocation."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from kartoteka.domain.identity.digests import hash_token
from kartoteka.domain.identity.sessions import Session
from tests.fakes.shared import START

ANN = UUID(int=1)


def test_a_session_ends_at_expiry_or_revocation() -> None:
    s = Session.open(UUID(int=5), hash_token("s"), ANN, START, timedelta(hours=1))
    assert s.is_active(START + timedelta(minutes=59))
    assert not s.is_active(START + timedelta(hours=1))
    s.revoke(START)
    first = s.revoked_at
    s.revoke(START + timedelta(minutes=1))
    assert not s.is_active(START)
    assert s.revoked_at == first
