"""Users and API tokens over HTTP, as the contract's admin page uses them; roles on those routes;
``identify`` for any route; and the no-auth mode."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kartoteka.di import api_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.app import create_app
from kartoteka.presentation.http.auth import Caller
from tests.harness.redis import RedisServer
from tests.integration.identity.conftest import ROOT, Api


def new_email(tag: str = "u") -> str:
    return f"{tag}{uuid.uuid4().hex[:10]}@example.org"


@contextlib.asynccontextmanager
async def logged_in(api: Api, email: str = ROOT) -> AsyncIterator[httpx.AsyncClient]:
    async with api.client() as client:
        await api.login(client, email)
        yield client


def admin(api: Api) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
    return logged_in(api, ROOT)


async def new_user(root: httpx.AsyncClient, role: str) -> dict[str, Any]:
    made = await root.post("/api/users", json={"email": new_email(role), "role": role})
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_users_are_created_on_both_slash_variants_with_server_chosen_ids(api: Api) -> None:
    async with admin(api) as root:
        plain = await root.post("/api/users", json={"email": "  Ann.Plain@Example.org", "role": "editor"})
        slashed = await root.post("/api/users/", json={"email": new_email(), "id": str(uuid.UUID(int=7))})
        assert (plain.status_code, slashed.status_code) == (201, 201)
        assert plain.json()["email"] == "ann.plain@example.org"
        assert plain.json()["role"] == "editor"
        assert slashed.json()["role"] == "user"
        assert slashed.json()["id"] != str(uuid.UUID(int=7))  # clients do not choose ids
        got = await root.get(f"/api/users/{plain.json()['id']}")
        assert got.json() == plain.json()
        duplicate = await root.post("/api/users", json={"email": "ANN.PLAIN@example.org"})
        assert (duplicate.status_code, duplicate.json()["error"]) == (400, "User with this email already exists")
        invalid = await root.post("/api/users", json={"email": "ann at example"})
        assert invalid.status_code == 422
        assert invalid.json()["error"].startswith("Invalid email address")
        bad_role = await root.post("/api/users", json={"email": new_email(), "role": "root"})
        assert (bad_role.status_code, bad_role.json()["detail"]) == (422, {"field": "role"})


async def test_users_are_listed_with_filters_page_sizes_and_the_filtered_total(api: Api) -> None:
    tag = uuid.uuid4().hex[:8]
    async with admin(api) as root:
        for n in range(5):
            await root.post("/api/users", json={"email": f"{tag}.reader{n}@example.org"})
        await root.post("/api/users", json={"email": f"{tag}.writer@example.org", "role": "editor"})
        ui = await root.get("/api/users", params={"email": tag.upper(), "role": "", "page": 1, "pageSize": 4})
        assert ui.status_code == 200
        assert ui.json()["total"] == 6
        assert len(ui.json()["users"]) == 4
        second = await root.get("/api/users", params={"email": tag, "page": 2, "page_size": 4})
        assert [u["email"] for u in second.json()["users"]] == [
            f"{tag}.reader4@example.org",
            f"{tag}.writer@example.org",
        ]
        editors = await root.get("/api/users/", params={"email": tag, "role": "editor"})
        assert (editors.json()["total"], editors.json()["users"][0]["role"]) == (1, "editor")
        assert (await root.get("/api/users", params={"page": 0})).status_code == 422
        assert (await root.get("/api/users", params={"pageSize": "many"})).json()["detail"] == {"field": "pageSize"}
        assert (await root.get("/api/users", params={"role": "boss"})).status_code == 422


async def test_users_are_updated_and_deleted_with_json_answers(api: Api) -> None:
    async with admin(api) as root:
        ann = (await root.post("/api/users", json={"email": new_email()})).json()
        other = (await root.post("/api/users", json={"email": new_email()})).json()
        changed = await root.put(
            f"/api/users/{ann['id']}", json={"id": ann["id"], "email": ann["email"], "role": "editor"}
        )
        assert changed.status_code == 200
        assert changed.json()["role"] == "editor"
        taken = await root.put(f"/api/users/{ann['id']}", json={"email": other["email"], "role": "editor"})
        assert taken.status_code == 409
        assert "error" in taken.json()
        mismatch = await root.put(f"/api/users/{ann['id']}", json={"id": other["id"], "role": "user"})
        assert mismatch.status_code == 422
        unknown = await root.put(f"/api/users/{uuid.uuid4()}", json={"email": new_email(), "role": "user"})
        assert (unknown.status_code, unknown.json()["error"]) == (404, "User not found")
        deleted = await root.delete(f"/api/users/{ann['id']}")
        assert deleted.status_code == 200
        assert deleted.json()["status"] == "success"
        assert deleted.json()["id"] == ann["id"]
        assert (await root.get(f"/api/users/{ann['id']}")).status_code == 404
        assert (await root.delete(f"/api/users/{ann['id']}/")).status_code == 404
        assert (await root.get("/api/users/not-a-uuid")).status_code == 422


async def test_the_last_admin_cannot_be_deleted_or_demoted(api: Api) -> None:
    async with admin(api) as root:
        me = (await root.get("/api/users", params={"email": ROOT})).json()["users"][0]
        self_demote = await root.put(f"/api/users/{me['id']}", json={"role": "editor"})
        assert self_demote.status_code == 409
        assert (await root.delete(f"/api/users/{me['id']}")).status_code == 409
        token = (await root.post("/api/tokens", json={"name": "ops", "role": "admin"})).json()["token"]
        script = {"Authorization": f"Bearer {token}"}
        admins = (await root.get("/api/users", params={"role": "admin"})).json()["users"]
        for other in admins:  # leave only root: earlier tests of this module may have made admins
            if other["id"] != me["id"]:
                await root.delete(f"/api/users/{other['id']}")
        last = await root.put(f"/api/users/{me['id']}", json={"role": "user"}, headers=script)
        assert last.status_code == 409
        assert "last admin" in last.json()["error"]
        assert (await root.delete(f"/api/users/{me['id']}", headers=script)).status_code == 409
        deputy = await new_user(root, "admin")
        async with logged_in(api, deputy["email"]) as deputy_client:
            assert (await deputy_client.put(f"/api/users/{me['id']}", json={"role": "editor"})).status_code == 200
            refused = await deputy_client.put(f"/api/users/{deputy['id']}", json={"role": "user"}, headers=script)
            assert refused.status_code == 409  # deputy is the last admin now
            assert (await root.get("/api/users")).status_code == 403  # root's session now acts as an editor
            await deputy_client.put(f"/api/users/{me['id']}", json={"role": "admin"})


async def test_roles_guard_the_admin_routes(api: Api) -> None:
    async with admin(api) as root:
        editor_email = (await new_user(root, "editor"))["email"]
    async with logged_in(api, editor_email) as editor, api.client() as stranger:
        denied = await editor.get("/api/users")
        assert (denied.status_code, denied.json()["error"]) == (403, "Insufficient permissions")
        assert (await editor.post("/api/tokens", json={"name": "x"})).status_code == 403
        anonymous = await stranger.get("/api/users")
        assert (anonymous.status_code, anonymous.json()["error"]) == (401, "Authentication required")
        assert (await stranger.delete(f"/api/users/{uuid.uuid4()}")).status_code == 401


async def test_api_tokens_are_shown_once_carry_a_role_and_can_be_revoked(api: Api) -> None:
    async with admin(api) as root, api.client() as script:
        made = await root.post("/api/tokens/", json={"name": "nightly export", "role": "editor"})
        assert made.status_code == 201
        raw = made.json()["token"]
        assert raw.startswith("kt_")
        listed = (await root.get("/api/tokens")).json()["tokens"]
        mine = next(t for t in listed if t["id"] == made.json()["id"])
        assert "token" not in mine
        assert (mine["role"], mine["revoked_at"]) == ("editor", None)
        bearer = {"Authorization": f"Bearer {raw}"}
        assert (await script.get("/api/session", headers=bearer)).json() == {"state": "authenticated", "role": "editor"}
        assert (await script.get("/api/users", headers=bearer)).status_code == 403
        assert (await script.get("/api/users", headers={"Authorization": "Bearer kt_nonsense"})).status_code == 401
        assert (await script.get("/api/users", headers={"Authorization": "Basic cm9vdDpyb290"})).status_code == 401
        revoked = await root.delete(f"/api/tokens/{made.json()['id']}")
        assert revoked.status_code == 200
        assert revoked.json()["token"]["revoked_at"] is not None
        assert (await script.get("/api/session", headers=bearer)).json() == {"state": "anonymous"}
        assert (await root.delete(f"/api/tokens/{uuid.uuid4()}")).status_code == 404
        assert (await root.post("/api/tokens", json={"name": "   "})).status_code == 422


@pytest.fixture
def open_settings(migrated_database: str, redis_server: RedisServer) -> Settings:
    return Settings.model_validate({"database": {"url": migrated_database}, "redis": {"url": redis_server.url}})


async def test_without_authentication_everyone_is_admin_and_no_user_route_exists(
    open_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    app = create_app(api_container(open_settings))
    async with app.router.lifespan_context(app):
        assert any("AUTHENTICATION IS OFF" in r.getMessage() for r in caplog.records)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://kartoteka") as client:
            assert (await client.get("/api/session")).json() == {"state": "authenticated", "role": "admin"}
            for method, path in [
                ("POST", "/api/auth/otp/start"),
                ("POST", "/api/auth/otp/verify"),
                ("GET", "/api/users"),
                ("POST", "/api/users/"),
                ("GET", "/api/tokens"),
                ("POST", "/api/session/logout-everywhere"),
            ]:
                answer = await client.request(method, path, json={"email": ROOT})
                assert answer.status_code == 404, (method, path)
                assert "error" in answer.json()
            assert (await client.post("/api/session/logout")).json() == {"state": "anonymous"}
            assert "/api/users" not in app.openapi()["paths"]

            async def probe(who: Caller) -> str:
                return f"{who.kind.value}:{who.name}"

            app.add_api_route("/probe", probe, methods=["GET"])
            assert (await client.get("/probe")).json() == "open:anonymous"
