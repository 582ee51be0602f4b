"""OTP challenges: a right code logs in once, wrong codes count down, codes expire."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from kartoteka.domain.identity.challenges import ChallengeRefusal, ChallengeRefusedError, OtpChallenge
from kartoteka.domain.identity.digests import code_digest, hash_token
from tests.fakes.shared import START

KEY = b"k" * 32
ANN = UUID(int=1)


def challenge(code: str = "ABCD2345", ttl_s: int = 600, user: UUID | None = ANN) -> OtpChallenge:
    cid = UUID(int=77)
    return OtpChallenge.issue(
        cid, hash_token("t"), user, "ann@example.com", code_digest(KEY, cid, code), START, timedelta(seconds=ttl_s)
    )


def test_a_right_code_logs_in_once() -> None:
    c = challenge()
    assert c.redeem(code_digest(KEY, c.id, "ABCD2345"), START, 5) == ANN
    with pytest.raises(ChallengeRefusedError) as refused:
        c.redeem(code_digest(KEY, c.id, "ABCD2345"), START, 5)
    assert refused.value.reason is ChallengeRefusal.CONSUMED


def test_wrong_codes_count_down_and_then_even_the_right_one_is_refused() -> None:
    c = challenge()
    left = []
    for _ in range(5):
        with pytest.raises(ChallengeRefusedError) as refused:
            c.redeem(code_digest(KEY, c.id, "WRONG000"), START, 5)
        assert refused.value.reason is ChallengeRefusal.WRONG_CODE
        left.append(refused.value.attempts_left)
    assert left == [4, 3, 2, 1, 0]
    assert not c.is_open(START, 5)
    with pytest.raises(ChallengeRefusedError) as refused:
        c.redeem(code_digest(KEY, c.id, "ABCD2345"), START, 5)
    assert refused.value.reason is ChallengeRefusal.EXHAUSTED
    assert c.attempts == 5
    assert c.consumed_at is None


def test_a_code_is_refused_from_the_moment_it_expires() -> None:
    c = challenge(ttl_s=60)
    assert c.is_open(START + timedelta(seconds=59), 5)
    with pytest.raises(ChallengeRefusedError) as refused:
        c.redeem(code_digest(KEY, c.id, "ABCD2345"), START + timedelta(seconds=60), 5)
    assert refused.value.reason is ChallengeRefusal.EXPIRED
    assert c.attempts == 0  # an expired challenge is not worth counting against
