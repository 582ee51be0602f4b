"""Digests of codes and tokens."""

from __future__ import annotations

from uuid import UUID

from kartoteka.domain.identity.digests import code_digest, hash_token, same_digest

KEY = b"k" * 32


def test_a_code_digest_is_bound_to_its_challenge_and_key() -> None:
    a, b = UUID(int=1), UUID(int=2)
    assert code_digest(KEY, a, "X") != code_digest(KEY, b, "X")
    assert code_digest(KEY, a, "X") != code_digest(b"other", a, "X")
    assert same_digest(code_digest(KEY, a, "X"), code_digest(KEY, a, "X"))
    assert len(hash_token("t")) == 64
    assert hash_token("t") != "t"
