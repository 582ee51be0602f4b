"""``/api/users`` and ``/api/tokens``: managing who may log in, for admins only (OTP mode).

The users routes follow Sketch-Search's web UI (its admin page sends ``pageSize``,
calls ``POST /api/users`` without the slash and parses the answer to ``DELETE``
as JSON; see docs/contracts.md). ``total`` counts the filtered users, emails are
validated, ids are the server's, an unknown id is a 404, and the last admin
cannot be deleted or demoted. API tokens are created with a role, shown once,
and revoked by id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kartoteka.application.identity.ports import UserFilter
from kartoteka.application.identity.tokens import CreateApiToken, ListApiTokens, RevokeApiToken
from kartoteka.application.identity.users import (
    MAX_PAGE_SIZE,
    CreateUser,
    DeleteUser,
    GetUser,
    ListUsers,
    UpdateUser,
)
from kartoteka.domain.errors import Refusal
from kartoteka.domain.identity.api_tokens import ApiToken
from kartoteka.domain.identity.roles import parse_role
from kartoteka.domain.identity.users import User
from kartoteka.presentation.http.auth import Caller

Endpoint = Callable[..., Any]
# Admins only: the access rules refuse everyone else before these routes run.
router = APIRouter(prefix="/api/users", tags=["users"])
tokens_router = APIRouter(prefix="/api/tokens", tags=["users"])


def _route(target: APIRouter, method: str, path: str, **kwargs: Any) -> Callable[[Endpoint], Endpoint]:
    """Register ``path`` and its trailing-slash twin: the web UI calls both spellings (docs/contracts.md)."""
    kwargs.setdefault("response_model", None)

    def register(endpoint: Endpoint) -> Endpoint:
        target.add_api_route(path, endpoint, methods=[method], **kwargs)
        target.add_api_route(path + "/", endpoint, methods=[method], include_in_schema=False, **kwargs)
        return endpoint

    return register


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "role": user.role.value,
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
    }


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": str(token.id),
        "name": token.name,
        "role": token.role.value,
        "created_at": token.created_at.isoformat(),
        "created_by": str(token.created_by) if token.created_by else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


class _BadQuery(Refusal):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}", {"field": field})


def _positive(name: str, value: str | None, default: int, most: int) -> int:
    """An empty value is the default: the UI sends every filter, set or not."""
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise _BadQuery(name, "must be a whole number") from None
    if not 1 <= number <= most:
        raise _BadQuery(name, f"must be 1 to {most}")
    return number


@_route(router, "GET", "")
@inject
async def list_users(request: Request, users: FromDishka[ListUsers]) -> Any:
    """Query: page, page_size (or the UI's pageSize), email (substring, any case), role."""
    q = request.query_params
    page = _positive("page", q.get("page"), 1, 1_000_000)
    size_field = "page_size" if q.get("page_size", "").strip() else "pageSize"
    page_size = _positive(size_field, q.get(size_field), 10, MAX_PAGE_SIZE)
    role = q.get("role", "").strip()
    where = UserFilter(email_contains=q.get("email") or None, role=parse_role(role) if role else None)
    found = await users(where, page, page_size)
    return {"users": [user_json(u) for u in found.users], "total": found.total}


class NewUser(BaseModel):
    email: str = Field(max_length=320)
    role: str = "user"
    id: str | None = Field(None, description="Ignored: the server chooses ids.")


class UserChange(BaseModel):
    email: str | None = Field(None, max_length=320)
    role: str | None = None
    id: UUID | None = Field(None, description="When given, must be the id in the path.")


@_route(router, "POST", "", status_code=201)
@inject
async def create_user(body: Annotated[NewUser, Body()], create: FromDishka[CreateUser], by: Caller) -> Any:
    user = await create(body.email, parse_role(body.role), by)
    return JSONResponse(user_json(user), status_code=201)


@_route(router, "GET", "/{user_id}")
@inject
async def get_user(user_id: UUID, get: FromDishka[GetUser]) -> Any:
    return user_json(await get(user_id))


@_route(router, "PUT", "/{user_id}")
@inject
async def update_user(
    user_id: UUID, body: Annotated[UserChange, Body()], update: FromDishka[UpdateUser], by: Caller
) -> Any:
    if body.id is not None and body.id != user_id:
        raise Refusal("the id in the body is not the id in the path", {"field": "id"})
    role = parse_role(body.role) if body.role is not None else None
    return user_json(await update(user_id, body.email, role, by))


@_route(router, "DELETE", "/{user_id}")
@inject
async def delete_user(user_id: UUID, delete: FromDishka[DeleteUser], by: Caller) -> Any:
    """Answers with a JSON body: the web UI parses every answer as JSON (docs/contracts.md)."""
    deleted = await delete(user_id, by)
    return {"status": "success", "id": str(deleted.id), "user": user_json(deleted)}


# What the domain takes as a name (kartoteka.domain.text): no control character or line/paragraph
# separator, and something besides whitespace. Only documented: the domain's refusal names the character.
# (It refuses a lone surrogate too, which only a JSON escape can carry; a range of surrogates is a pattern
# regex engines, schemathesis' among them, cannot use.)
_NOT_TEXT = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
TOKEN_NAME_PATTERN = rf"^[^{_NOT_TEXT}]*[^\s{_NOT_TEXT}][^{_NOT_TEXT}]*$"


class NewToken(BaseModel):
    name: str = Field(max_length=200, json_schema_extra={"pattern": TOKEN_NAME_PATTERN})
    role: str = "user"


@_route(tokens_router, "GET", "")
@inject
async def list_tokens(tokens: FromDishka[ListApiTokens]) -> Any:
    return {"tokens": [token_json(t) for t in await tokens()]}


@_route(tokens_router, "POST", "", status_code=201)
@inject
async def create_token(body: Annotated[NewToken, Body()], create: FromDishka[CreateApiToken], by: Caller) -> Any:
    """The raw token is in this answer only; it is stored hashed and cannot be shown again."""
    issued = await create(body.name, parse_role(body.role), by)
    return JSONResponse(token_json(issued.token) | {"token": issued.raw}, status_code=201)


@_route(tokens_router, "DELETE", "/{token_id}")
@inject
async def revoke_token(token_id: UUID, revoke: FromDishka[RevokeApiToken], by: Caller) -> Any:
    revoked = await revoke(token_id, by)
    return {"status": "success", "id": str(revoked.id), "token": token_json(revoked)}
