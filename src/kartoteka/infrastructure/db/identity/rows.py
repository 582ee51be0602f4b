"""Rows to identity objects and back; the domain knows nothing of columns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from kartoteka.domain.identity.api_tokens import ApiToken
from kartoteka.domain.identity.attempts import LoginAttempt
from kartoteka.domain.identity.challenges import OtpChallenge
from kartoteka.domain.identity.roles import Role
from kartoteka.domain.identity.sessions import Session
from kartoteka.domain.identity.users import User


def user_from_row(row: Row[Any]) -> User:
    m = row._mapping
    return User(
        id=m["id"], email=m["email"], role=Role(m["role"]), created_at=m["created_at"], updated_at=m["updated_at"]
    )


def user_to_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role.value,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def challenge_from_row(row: Row[Any]) -> OtpChallenge:
    m = row._mapping
    return OtpChallenge(
        id=m["id"],
        token_hash=m["token_hash"],
        user_id=m["user_id"],
        email=m["email"],
        code_hash=m["code_hash"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        attempts=m["attempts"],
        consumed_at=m["consumed_at"],
    )


def challenge_to_row(challenge: OtpChallenge) -> dict[str, Any]:
    return {
        "id": challenge.id,
        "token_hash": challenge.token_hash,
        "user_id": challenge.user_id,
        "email": challenge.email,
        "code_hash": challenge.code_hash,
        "created_at": challenge.created_at,
        "expires_at": challenge.expires_at,
        "attempts": challenge.attempts,
        "consumed_at": challenge.consumed_at,
    }


def session_from_row(row: Row[Any], prefix: str = "") -> Session:
    m = row._mapping
    return Session(
        id=m[prefix + "id"],
        token_hash=m[prefix + "token_hash"],
        user_id=m[prefix + "user_id"],
        created_at=m[prefix + "created_at"],
        expires_at=m[prefix + "expires_at"],
        revoked_at=m[prefix + "revoked_at"],
    )


def session_to_row(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "token_hash": session.token_hash,
        "user_id": session.user_id,
        "created_at": session.created_at,
        "expires_at": session.expires_at,
        "revoked_at": session.revoked_at,
    }


def token_from_row(row: Row[Any]) -> ApiToken:
    m = row._mapping
    return ApiToken(
        id=m["id"],
        name=m["name"],
        token_hash=m["token_hash"],
        role=Role(m["role"]),
        created_at=m["created_at"],
        created_by=m["created_by"],
        revoked_at=m["revoked_at"],
    )


def token_to_row(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "token_hash": token.token_hash,
        "role": token.role.value,
        "created_at": token.created_at,
        "created_by": token.created_by,
        "revoked_at": token.revoked_at,
    }


def attempt_to_row(attempt: LoginAttempt) -> dict[str, Any]:
    return {
        "kind": attempt.kind.value,
        "reason": attempt.reason.value,
        "succeeded": attempt.succeeded,
        "email": attempt.email,
        "user_id": attempt.user_id,
        "client": attempt.client,
        "occurred_at": attempt.occurred_at,
    }
