"""The card workbench: the static web app built from ``web/`` (``npm run build``), served at ``/``.

- ``/`` and the app's own pages (``CLIENT_PAGES``, deep links included) answer ``index.html`` with
  ``Cache-Control: no-cache``, so a new build is picked up on the next load (SPA fallback);
- ``/assets/...`` are the build's content-hashed files: cached for a year, ``immutable``;
- with no build present the api still runs, and ``/`` is a short page saying how to build it.

Only these paths are served, each named here: an unknown path (``/api/nope`` above all) stays a
JSON 404, and every path has its access rule in ``access.py``. The API routes are untouched.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from kartoteka.domain.errors import ErrorKind, Refusal

# The app's client-side routes: a deep link to any of them loads index.html and the app routes it.
CLIENT_PAGES = ("batches", "cards", "search", "upload", "sign-in")
ASSET_CACHE = "public, max-age=31536000, immutable"
PAGE_CACHE = "no-cache"

HOW_TO_BUILD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kartoteka</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Kartoteka</h1>
<p>The API is running, but the card workbench has not been built, so there is nothing to show here.</p>
<p>Build it from a checkout with <code>make setup</code>, or by hand:
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> (Node.js 20 or later), then reload.
A build elsewhere is found through <code>api.web_dir</code> (<code>KARTOTEKA__API__WEB_DIR</code>).</p>
<p>The API itself: <a href="/docs">/docs</a>.</p>
</body></html>
"""

# src/kartoteka/presentation/http/web.py -> the checkout's root.
CHECKOUT_BUILD = Path(__file__).resolve().parents[4] / "web" / "dist"


@dataclass(frozen=True, slots=True)
class WebOptions:
    """Where the built workbench is; ``directory`` without an ``index.html`` means "not built"."""

    directory: Path = CHECKOUT_BUILD

    @property
    def built(self) -> bool:
        return (self.directory / "index.html").is_file()


class AssetNotFoundError(Refusal):
    kind = ErrorKind.NOT_FOUND


def _inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` if it is a file under ``root`` (no ``..`` escapes), else None."""
    candidate = (root / relative).resolve()
    if candidate.is_file() and candidate.is_relative_to(root.resolve()):
        return candidate
    return None


def web_router(options: WebOptions) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page() -> Response:
        if not options.built:
            return HTMLResponse(HOW_TO_BUILD, headers={"Cache-Control": PAGE_CACHE})
        return FileResponse(options.directory / "index.html", headers={"Cache-Control": PAGE_CACHE})

    router.add_api_route("/", page, methods=["GET"])
    for name in CLIENT_PAGES:
        router.add_api_route(f"/{name}", page, methods=["GET"])
        router.add_api_route(f"/{name}/{{rest:path}}", page, methods=["GET"])

    def asset(name: str) -> Response:
        found = _inside(options.directory / "assets", name)
        if found is None:
            raise AssetNotFoundError(f"no asset {name!r} in the workbench build", {"asset": name})
        media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        return FileResponse(found, media_type=media_type, headers={"Cache-Control": ASSET_CACHE})

    router.add_api_route("/assets/{name:path}", asset, methods=["GET"])

    return router


def install_workbench(app: FastAPI, options: WebOptions) -> None:
    app.include_router(web_router(options))
