"""``/health``: the process answers. ``/ready``: it can reach everything it needs."""

from __future__ import annotations

import asyncio

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from kartoteka.application.shared.health import DependencyCheck

router = APIRouter(tags=["health"])


@router.get("/health")
@router.get("/health/", include_in_schema=False)  # the spelling the old recognition clients call
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", response_class=JSONResponse, response_model=None)
@inject
async def ready(checks: FromDishka[list[DependencyCheck]]) -> JSONResponse:
    async def run(check: DependencyCheck) -> tuple[str, str]:
        try:
            await check.check()
            return check.name, "ok"
        except Exception as exc:  # any failure means not ready; say which and why
            return check.name, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    results = dict(await asyncio.gather(*(run(c) for c in checks)))
    ok = all(v == "ok" for v in results.values())
    body = {"status": "ready" if ok else "unavailable", "checks": results}
    if not ok:
        body = {"error": "not ready: " + ", ".join(k for k, v in results.items() if v != "ok"), "detail": results}
    return JSONResponse(body, status_code=200 if ok else 503)
