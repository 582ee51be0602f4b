"""How secrets are kept: never as given, so a copy of the database logs nobody in.

Tokens (sessions, challenges, API tokens) are 256 random bits, so a plain
SHA-256 is enough to make the stored form useless to a thief while keeping
look-ups by hash indexable. A one-time code is short and guessable offline,
so it is stored as an HMAC under the deployment's secret key, bound to its
challenge so that one challenge's digest says nothing about another's.
Digests are compared in constant time: how long a comparison takes must not
tell how many leading characters of a guess were right.
"""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def code_digest(key: bytes, challenge_id: UUID, code: str) -> str:
    message = f"{challenge_id}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))
