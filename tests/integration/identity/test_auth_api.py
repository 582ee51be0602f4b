"""The login contract over HTTP, with the real mail server: codes are read from the mail it received.

Sketch-Search's routes, bodies and cookies, and what it lacked: the same answer and cookie for
unknown addresses, attempt limits, rate limits on starting, server-side logout, expiry by an
injected clock (no sleeping), and no secret in any log.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.infrastructure.config.settings import Settings
from tests.harness.network import free_port
from tests.harness.smtp import SmtpServer
from tests.integration.identity.conftest import ROOT, SECRET, Api, running_api


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """name → the whole Set-Cookie header for it."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def flags(header: str) -> set[str]:
    """The attributes of a Set-Cookie header, lower-cased, without expiry dates."""
    return {p.strip().lower() for p in header.split(";")[1:] if not p.strip().lower().startswith("expires")}


def value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


@pytest.fixture
async def limited(settings: Settings, smtp_server: SmtpServer) -> AsyncIterator[Api]:
    """Three codes per email, eight per address, in ten minutes."""
    strict = settings.auth.model_copy(update={"start_limit_per_email": 3, "start_limit_per_address": 8})
    async for api in running_api(settings.model_copy(update={"auth": strict}), smtp_server):
        yield api


def new_email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.org"


async def reasons(engine: AsyncEngine, email: str | None = None, client: str | None = None) -> list[str]:
    query = "SELECT reason FROM login_attempts WHERE (CAST(:e AS text) IS NULL OR email = :e) "
    query += "AND (CAST(:c AS text) IS NULL OR client = :c) ORDER BY id"
    async with engine.connect() as conn:
        return [r[0] for r in await conn.execute(text(query), {"e": email, "c": client})]


SESSION_FLAGS = {"httponly", "secure", "samesite=lax", "path=/"}


async def test_a_code_from_the_mail_opens_a_session_with_the_contracts_cookies(api: Api) -> None:
    async with api.client() as browser:
        assert (await browser.get("/api/session")).json() == {"state": "anonymous"}
        started = await browser.post("/api/auth/otp/start", json={"email": "  Root@Example.ORG "})
        assert started.status_code == 200
        assert started.json() == {"state": "challenge_issued"}
        challenge = set_cookies(started)["challenge_token"]
        assert re.fullmatch(r"[0-9a-f]{64}", value(challenge))
        assert flags(challenge) == SESSION_FLAGS  # no Max-Age: a browser-session cookie, as in the contract
        assert (await browser.get("/api/session")).json() == {"state": "challenge_issued"}

        mail = api.smtp.messages[-1]
        assert mail.rcpt_tos == (ROOT,)
        assert mail.subject == "Your OTP Code"
        code = api.code_for(ROOT)
        assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code)  # 8 characters, as the UI's input expects

        verified = await browser.post("/api/auth/otp/verify", json={"code": code})
        assert verified.status_code == 200
        assert verified.json() == {"state": "authenticated", "role": "admin"}
        cookies = set_cookies(verified)
        assert re.fullmatch(r"[0-9a-f]{64}", value(cookies["session_token"]))
        assert flags(cookies["session_token"]) == SESSION_FLAGS
        assert "max-age=0" in flags(cookies["challenge_token"])
        assert (await browser.get("/api/session")).json() == {"state": "authenticated", "role": "admin", "email": ROOT}
        assert (await browser.get("/api/users")).status_code == 200


async def test_an_unknown_email_gets_the_same_answer_and_cookie(api: Api, engine: AsyncEngine) -> None:
    ghost = new_email()
    async with api.client() as known, api.client() as unknown:
        a = await known.post("/api/auth/otp/start", json={"email": ROOT})
        b = await unknown.post("/api/auth/otp/start", json={"email": ghost})
        assert (a.status_code, a.json()) == (b.status_code, b.json())
        assert set(set_cookies(a)) == set(set_cookies(b)) == {"challenge_token"}
        assert flags(set_cookies(a)["challenge_token"]) == flags(set_cookies(b)["challenge_token"])
        assert (await unknown.get("/api/session")).json() == {"state": "challenge_issued"}
        wrong_known = await known.post("/api/auth/otp/verify", json={"code": "AAAAAAAA"})
        wrong_unknown = await unknown.post("/api/auth/otp/verify", json={"code": "AAAAAAAA"})
        assert (wrong_known.status_code, wrong_known.json()) == (wrong_unknown.status_code, wrong_unknown.json())
        assert wrong_unknown.json()["error"] == "Invalid OTP code."
    assert api.mails_to(ghost) == 0
    assert await reasons(engine, ghost) == ["unknown_email", "wrong_code"]


async def test_brute_force_is_stopped_after_max_attempts(api: Api, engine: AsyncEngine) -> None:
    async with api.client() as browser:
        await browser.post("/api/auth/otp/start", json={"email": ROOT})
        challenge, code = browser.cookies["challenge_token"], api.code_for(ROOT)
        answers = [await browser.post("/api/auth/otp/verify", json={"code": "22222222"}) for _ in range(3)]
        assert [r.status_code for r in answers] == [401, 401, 401]
        assert {r.json()["error"] for r in answers} == {"Invalid OTP code."}
        assert [r.json()["detail"]["attempts_left"] for r in answers] == [2, 1, 0]
        assert "max-age=0" in flags(set_cookies(answers[-1])["challenge_token"])  # dead: the UI starts again
        browser.cookies.set("challenge_token", challenge)  # a script keeps sending the dead challenge
        late = await browser.post("/api/auth/otp/verify", json={"code": code})  # even the right code
        assert late.status_code == 403
        assert late.json()["error"] == "Too many wrong codes. Please start the OTP process again."
        assert (await browser.get("/api/session")).json() == {"state": "anonymous"}
    assert await reasons(engine, ROOT, api.address) == [
        "code_sent",
        "wrong_code",
        "wrong_code",
        "wrong_code",
        "too_many_attempts",
    ]


async def test_a_code_works_once_and_verify_without_a_challenge_is_refused(api: Api) -> None:
    async with api.client() as browser:
        missing = await browser.post("/api/auth/otp/verify", json={"code": "AAAAAAAA"})
        assert missing.status_code == 403
        assert missing.json()["error"] == "Challenge token is missing. Please start the OTP process again."
        await browser.post("/api/auth/otp/start", json={"email": ROOT})
        challenge, code = browser.cookies["challenge_token"], api.code_for(ROOT)
        assert (await browser.post("/api/auth/otp/verify", json={"code": code})).status_code == 200
        browser.cookies.set("challenge_token", challenge)
        again = await browser.post("/api/auth/otp/verify", json={"code": code})
        assert again.status_code == 403
        assert again.json()["error"] == "OTP code already used. Please start the OTP process again."
        browser.cookies.set("challenge_token", "0" * 64)
        unknown = await browser.post("/api/auth/otp/verify", json={"code": code})
        assert (unknown.status_code, unknown.json()["error"]) == (403, "OTP code not found")


async def test_otp_start_floods_are_stopped_per_email_and_per_address(limited: Api, engine: AsyncEngine) -> None:
    api, target = limited, new_email()
    for n in range(3):
        async with api.client(f"192.0.2.{n + 1}") as browser:
            assert (await browser.post("/api/auth/otp/start", json={"email": target})).status_code == 200
    async with api.client("192.0.2.99") as browser:
        flood = await browser.post("/api/auth/otp/start", json={"email": target.upper()})
        assert flood.status_code == 429
        assert flood.json()["error"] == "Too many requests; try again later"
        assert 0 < int(flood.headers["retry-after"]) <= 600
        assert "set-cookie" not in flood.headers
    async with api.client() as bomber:
        answers = [
            (await bomber.post("/api/auth/otp/start", json={"email": new_email()})).status_code for _ in range(9)
        ]
    assert answers == [200] * 8 + [429]
    assert (await reasons(engine, target))[-1] == "rate_limited_email"
    assert (await reasons(engine, client=api.address))[-1] == "rate_limited_address"
    api.clock.advance(seconds=600)  # the window slides by the injected clock, not by waiting
    async with api.client() as bomber:
        assert (await bomber.post("/api/auth/otp/start", json={"email": target})).status_code == 200


async def test_logout_revokes_the_session_so_the_old_cookie_stops_working(api: Api) -> None:
    async with api.client() as browser:
        await api.login(browser, ROOT)
        stolen = browser.cookies["session_token"]
        out = await browser.post("/api/session/logout/")  # the UI's spelling, with the slash
        assert (out.status_code, out.json()) == (200, {"state": "anonymous"})
        assert "max-age=0" in flags(set_cookies(out)["session_token"])
    async with api.client() as thief:
        thief.cookies.set("session_token", stolen)
        assert (await thief.get("/api/session")).json() == {"state": "anonymous"}
        refused = await thief.get("/api/users")
        assert (refused.status_code, refused.json()["error"]) == (401, "Authentication required")
        assert (await thief.post("/api/session/logout")).json() == {"state": "anonymous"}


async def test_logout_everywhere_ends_every_session_of_the_user(api: Api) -> None:
    async with api.client() as laptop, api.client() as phone:
        await api.login(laptop, ROOT)
        await api.login(phone, ROOT)
        out = await phone.post("/api/session/logout-everywhere")
        assert out.status_code == 200
        assert out.json()["state"] == "anonymous"
        assert out.json()["revoked"] >= 2
        assert (await laptop.get("/api/session")).json() == {"state": "anonymous"}
        assert (await laptop.post("/api/session/logout-everywhere")).status_code == 401


async def test_expiry_is_honoured_by_the_injected_clock(api: Api) -> None:
    async with api.client() as browser:
        await api.login(browser, ROOT)
        api.clock.advance(seconds=3599)
        assert (await browser.get("/api/session")).json()["state"] == "authenticated"
        api.clock.advance(seconds=1)
        assert (await browser.get("/api/session")).json() == {"state": "anonymous"}
        await browser.post("/api/auth/otp/start", json={"email": ROOT})
        api.clock.advance(seconds=300)
        late = await browser.post("/api/auth/otp/verify", json={"code": api.code_for(ROOT)})
        assert (late.status_code, late.json()["error"]) == (403, "OTP code expired")


async def test_a_stale_challenge_cookie_is_cleared_not_a_500(api: Api) -> None:
    async with api.client() as browser:
        browser.cookies.set("challenge_token", "f" * 64)
        answer = await browser.get("/api/session")
        assert (answer.status_code, answer.json()) == (200, {"state": "anonymous"})
        assert "max-age=0" in flags(set_cookies(answer)["challenge_token"])
        await api.login(browser, ROOT)
        browser.cookies.set("challenge_token", "e" * 64)
        answer = await browser.get("/api/session")
        assert answer.json()["state"] == "authenticated"
        browser.cookies.clear()
        browser.cookies.set("session_token", "d" * 64)
        answer = await browser.get("/api/session")
        assert answer.json() == {"state": "anonymous"}
        assert "max-age=0" in flags(set_cookies(answer)["session_token"])


async def test_bad_requests_are_json_errors(api: Api) -> None:
    async with api.client() as browser:
        bad = await browser.post("/api/auth/otp/start", json={"email": "not-an-email"})
        assert bad.status_code == 422
        assert bad.json()["error"].startswith("Invalid email address")
        assert "set-cookie" not in bad.headers
        missing = await browser.post("/api/auth/otp/start", json={})
        assert missing.status_code == 422
        assert "error" in missing.json()
        assert (await browser.post("/api/auth/otp/verify", content=b"{")).status_code == 422


async def test_a_mail_failure_is_a_503_and_leaves_no_challenge(
    settings: Settings, smtp_server: SmtpServer, engine: AsyncEngine
) -> None:
    nowhere = settings.auth.smtp.model_copy(update={"port": free_port(), "timeout_s": 2.0})
    settings = settings.model_copy(update={"auth": settings.auth.model_copy(update={"smtp": nowhere})})
    async with engine.connect() as conn:
        before = (await conn.execute(text("SELECT count(*) FROM otp_challenges"))).scalar_one()
    async for api in running_api(settings, smtp_server):
        async with api.client() as browser:
            down = await browser.post("/api/auth/otp/start", json={"email": ROOT})
            assert down.status_code == 503
            assert down.json()["error"] == "The login code could not be sent; try again shortly"
            assert "set-cookie" not in down.headers
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM otp_challenges"))).scalar_one() == before
    assert (await reasons(engine, ROOT))[-1] == "mail_failed"


async def test_nothing_secret_reaches_the_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = [SECRET]
    async with api.client() as browser:
        await browser.post("/api/auth/otp/start", json={"email": ROOT})
        secrets += [browser.cookies["challenge_token"], api.code_for(ROOT)]
        await browser.post("/api/auth/otp/verify", json={"code": "WRONGWRO"})
        await browser.post("/api/auth/otp/verify", json={"code": secrets[-1]})
        secrets.append(browser.cookies["session_token"])
        made = await browser.post("/api/tokens", json={"name": "log check", "role": "user"})
        secrets.append(made.json()["token"])
        await browser.get("/api/session", headers={"Authorization": f"Bearer {secrets[-1]}"})
        await browser.post("/api/session/logout")
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # aiosmtpd is the far end
    assert ours, "nothing was logged at all: the check would prove nothing"
    text_logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in ours)
    for secret in secrets:
        assert secret not in text_logged


async def test_cookies_drop_secure_only_when_configured(settings: Settings, smtp_server: SmtpServer) -> None:
    plain = settings.model_copy(update={"auth": settings.auth.model_copy(update={"cookie_secure": False})})
    async for api in running_api(plain, smtp_server):
        async with api.client() as browser:
            started = await browser.post("/api/auth/otp/start", json={"email": new_email()})
            assert flags(set_cookies(started)["challenge_token"]) == {"httponly", "samesite=lax", "path=/"}


async def test_attempts_are_recorded_with_reasons_and_client(api: Api, engine: AsyncEngine) -> None:
    async with api.client() as browser:
        await api.login(browser, ROOT)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT kind, reason, succeeded, user_id IS NOT NULL FROM login_attempts "
                    "WHERE client = :c ORDER BY id"
                ),
                {"c": api.address},
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("otp_start", "code_sent", True, True),
        ("otp_verify", "authenticated", True, True),
    ]
