"""The workbench's files at ``/``: the page for every client route, hashed assets cached for a year, no build
explained, and the API's own answers untouched (an unknown API path stays a JSON 404)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kartoteka.di import api_container
from kartoteka.domain.identity.roles import Role
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.access import UnguardedRouteError, required_role
from kartoteka.presentation.http.app import create_app

INDEX = '<!doctype html><html><body><div id="root"></div><script src="/assets/app-3f2a.js"></script></body></html>'


async def client_for(web_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_container(Settings.model_validate({"api": {"web_dir": str(web_dir)}})))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@pytest.fixture
def build(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX, encoding="utf-8")
    (tmp_path / "assets" / "app-3f2a.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not an asset", encoding="utf-8")
    return tmp_path


@pytest.fixture
async def client(build: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(build):
        yield c


@pytest.mark.parametrize("path", ["/", "/batches", "/batches/123", "/cards/abc?line=2", "/search?q=x", "/upload"])
async def test_every_client_route_answers_the_page_revalidated(client: httpx.AsyncClient, path: str) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.text == INDEX
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["content-type"].startswith("text/html")


async def test_hashed_assets_are_cached_for_a_year(client: httpx.AsyncClient) -> None:
    asset = await client.get("/assets/app-3f2a.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    head = await client.head("/assets/app-3f2a.js")
    assert head.status_code == 200


@pytest.mark.parametrize("path", ["/assets/missing.js", "/assets/../secret.txt", "/assets/%2e%2e/secret.txt"])
async def test_a_missing_or_escaping_asset_is_a_json_404(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"]


async def test_api_paths_are_not_swallowed_by_the_page(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/api/nope")
    assert unknown.status_code == 404
    assert unknown.json()["error"]
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert "paths" in (await client.get("/openapi.json")).json()
    assert (await client.get("/secret.txt")).status_code == 404


async def test_without_a_build_the_page_says_how_to_build_it(tmp_path: Path) -> None:
    async for client in client_for(tmp_path / "nothing-here"):
        page = await client.get("/")
        assert page.status_code == 200
        assert "npm ci &amp;&amp; npm run build" in page.text
        assert "make setup" in page.text
        assert (await client.get("/health")).status_code == 200


def test_only_the_workbench_files_are_public_and_only_to_read() -> None:
    for path in ("/", "/assets/app-3f2a.js", "/batches", "/batches/1", "/cards/1", "/search", "/upload", "/sign-in"):
        assert required_role("GET", path) is None, path
    assert required_role("GET", "/api/recognition/batches") is Role.USER
    for method, path in (("POST", "/"), ("PUT", "/assets/x.js"), ("GET", "/batchesX"), ("GET", "/metricsx")):
        with pytest.raises(UnguardedRouteError):
            required_role(method, path)
