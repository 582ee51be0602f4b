"""The card workbench in a real browser against a real ``kartoteka serve`` (logins on, tiny models).

One journey, as a linguist would go: sign in with the code from the mail, have a bad upload refused
(nothing stored), upload three cards including a 2-page PDF, watch every card's status arrive live,
add a stress mark to a word and see the new revision and its author, lose a race on purpose (412) and
re-apply the edit on top, export the card as PAGE XML and validate it, search the corrected word and
land on its line, find similar cards, switch the interface to English; a dropped live connection resyncs
from the snapshot, and a reader (role ``user``) sees no edit controls. Every step leaves a screenshot in
``var/artifacts/workbench/``; no request goes to any host but the server's.

Chromium is Debian's (``apt-get install chromium``), driven by Python Playwright: no browser download.
Without it the test is skipped, unless ``KARTOTEKA_REQUIRE_BROWSER=1`` (``make test`` sets it), where a
missing browser or an unbuilt workbench is a failure.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from kartoteka_dev.synthetic_cards import render_card
from tests.harness.network import free_port
from tests.harness.smtp import ReceivedMessage, SmtpServer
from tests.schemas import load_schema

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "artifacts" / "workbench"
ADMIN = "workbench-archivist@example.org"  # an address no other test mails: the SMTP server is shared
STRESSED = "ба\u0301тюшко"
WAIT_MS = 180_000
KARTOTEKA = str(Path(sys.executable).with_name("kartoteka"))


def _unavailable(reason: str) -> None:
    if os.environ.get("KARTOTEKA_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (KARTOTEKA_REQUIRE_BROWSER=1: the browser tests must run)")
    pytest.skip(reason)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _unavailable("no Chromium: apt-get install chromium (scripts/bootstrap.sh does)")
    assert found is not None
    if not (ROOT / "web" / "dist" / "index.html").is_file():
        _unavailable("the workbench is not built: make web-build")
    return found


def new_code(smtp: SmtpServer, email: str, before: list[ReceivedMessage]) -> str:
    """The code in the first mail to ``email`` that arrived after ``before`` was read."""
    mail = smtp.wait_for_message(lambda m: email in m.rcpt_tos and all(m is not old for old in before), timeout=30)
    found = re.search(r"Your OTP code is: (\S+)", mail.message.get_content())
    assert found is not None, mail.message.get_content()
    return found.group(1)


def card_png(seed: int) -> bytes:
    image = render_card(seed).image
    image.thumbnail((640, 450))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def two_page_pdf() -> bytes:
    pages = [render_card(seed).image.convert("RGB") for seed in (21, 22)]
    for page in pages:
        page.thumbnail((640, 450))
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:], resolution=72)
    return buffer.getvalue()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Outside pytest's private temporary root: PostgreSQL runs as a system user under root."""
    path = Path(tempfile.mkdtemp(prefix="kartoteka-workbench-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def served(
    tiny_detector: Path, tiny_recognizer: Path, smtp_server: SmtpServer, tmp_path: Path, data_dir: Path
) -> Iterator[str]:
    """``kartoteka serve`` with email logins, mailing codes to the test's SMTP server."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"api: {{port: {port}, web_dir: '{ROOT / 'web' / 'dist'}'}}\n"
        "recognition:\n"
        f"  detector: {{model: '{tiny_detector}', conf: 0.0, imgsz: 320, max_det: 6}}\n"
        f"  recognizer: {{model: '{tiny_recognizer}'}}\n"
        "inference: {device: cpu}\n"
        "auth:\n"
        "  kind: otp\n"
        f"  secret_key: '{'w' * 48}'\n"
        f"  default_user_email: {ADMIN}\n"
        "  cookie_secure: false\n"
        f"  smtp: {{host: {smtp_server.host}, port: {smtp_server.port}, tls: none, from_address: codes@example.org}}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARTOTEKA")}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        serve = subprocess.Popen(
            [KARTOTEKA, "--config", str(config), "serve", "--data-dir", str(data_dir)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert serve.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(base + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve never became ready"
            time.sleep(0.5)
        yield base
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGINT)
        serve.wait(timeout=90)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]


def test_a_linguist_uploads_watches_corrects_exports_and_searches(
    served: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    executable = chromium()
    from playwright.sync_api import WebSocketRoute, expect, sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # this run's screenshots only
    ARTIFACTS.mkdir(parents=True)
    base = served
    foreign: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True, locale="ru-RU")
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on(
            "request",
            lambda r: None if r.url.startswith((base, "ws://127.0.0.1", "data:", "blob:")) else foreign.append(r.url),
        )

        # Every /api/ws socket goes through this route, so the test can drop them and keep them down.
        sockets: list[WebSocketRoute] = []
        live_down = False

        def through(ws: WebSocketRoute) -> None:
            if live_down:
                ws.close()
                return
            ws.connect_to_server()
            sockets.append(ws)

        page.route_web_socket("**/api/ws", through)

        def shot(name: str) -> None:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

        # Sign in: the page is public, the data is not; the code comes by mail.
        page.goto(base + "/")
        expect(page.get_by_role("button", name="Получить код")).to_be_visible()
        shot("01-sign-in")
        page.fill("input[name=email]", ADMIN)
        before = smtp_server.messages
        page.get_by_role("button", name="Получить код").click()
        expect(page.locator("input[name=code]")).to_be_visible()
        page.fill("input[name=code]", new_code(smtp_server, ADMIN, before))
        shot("02-code")
        page.get_by_role("button", name="Войти").click()
        expect(page.get_by_test_id("who")).to_contain_text(ADMIN)
        expect(page.get_by_text("Пачек пока нет.")).to_be_visible()
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        api = httpx.Client(base_url=base, cookies={"session_token": cookies["session_token"]}, timeout=30)

        # A refused file: the server's reason is shown, and nothing of that request is stored.
        page.get_by_role("link", name="Загрузка").click()
        files = page.get_by_test_id("file-input")
        files.set_input_files(
            [
                {"name": "card-a.png", "mimeType": "image/png", "buffer": card_png(11)},
                {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a scan"},
            ]
        )
        page.get_by_test_id("send").click()
        expect(page.get_by_test_id("upload-error")).to_contain_text("notes.txt")
        shot("03-upload-refused")
        assert api.get("/api/recognition/batches").json()["items"] == []
        assert api.get("/api/recognition/tasks").json()["items"] == []

        # Three files, one a 2-page PDF: four cards in one batch, their statuses arriving live.
        page.get_by_role("button", name="✕").click()
        files.set_input_files(
            [
                {"name": "card-a.png", "mimeType": "image/png", "buffer": card_png(11)},
                {"name": "card-b.png", "mimeType": "image/png", "buffer": card_png(12)},
                {"name": "box.pdf", "mimeType": "application/pdf", "buffer": two_page_pdf()},
            ]
        )
        page.fill("input[name=batch_label]", "Пинега, ящик 3")
        shot("04-upload")
        page.get_by_test_id("send").click()
        expect(page.get_by_test_id("batch")).to_have_attribute("data-loaded", "4")
        expect(page.locator("[data-live=live]")).to_be_visible()
        shot("05-batch-arriving")
        page.wait_for_function(
            "document.querySelectorAll('.vrow[data-status=completed]').length === 4", timeout=WAIT_MS
        )
        expect(page.locator(".vrow[data-task]").nth(3)).to_contain_text("box.pdf · 2/2")
        shot("06-batch-completed")

        # A dropped connection: a correction made meanwhile arrives with the snapshot after reconnecting.
        live_down = True
        for ws in sockets:
            ws.close()
        expect(page.locator("[data-live=offline]")).to_be_visible()
        second = page.locator(".vrow[data-task]").nth(1).get_attribute("data-task")
        retyped = api.patch(
            f"/api/recognition/tasks/{second}/transcript",
            headers={"If-Match": '"0"'},
            json={"edits": [{"op": "replace_text", "text": "Лешуконье"}]},
        )
        assert retyped.status_code == 200, retyped.text
        shot("07-batch-reconnecting")
        live_down = False
        expect(page.locator("[data-live=live]")).to_be_visible()
        expect(page.locator(f".vrow[data-task='{second}'] .text.muted")).to_have_text("Лешуконье")

        # Correct a word, adding a stress mark with its shortcut; the new revision names its author.
        page.locator(".vrow[data-task] a").first.click()
        expect(page.get_by_test_id("revision")).to_have_text("Ревизия 0")
        page.locator(".tword[data-word='0-0']").click()
        word = page.get_by_test_id("word-input")
        word.fill("батюшко")
        word.press("Home")
        word.press("ArrowRight")
        word.press("ArrowRight")
        word.press("Alt+Digit1")
        expect(word).to_have_value(STRESSED)
        word.press("Enter")
        expect(page.get_by_test_id("card")).to_have_attribute("data-pending", "1")
        shot("08-editor-pending")
        page.get_by_test_id("save").click()
        expect(page.get_by_test_id("revision")).to_have_text("Ревизия 1")
        expect(page.locator(".rev[data-revision='1'] [data-testid=rev-author]")).to_have_text(ADMIN)
        expect(page.locator(".tword[data-word='0-0']")).to_have_text(STRESSED)
        shot("09-editor-saved")
        page.set_viewport_size({"width": 1920, "height": 1080})  # and on a large screen
        shot("09b-editor-large-screen")
        page.set_viewport_size({"width": 1280, "height": 800})

        # Lose a race: someone else saves revision 2 while this edit is pending; re-apply on top.
        card_url = page.url.split("?")[0]
        task_id = card_url.rstrip("/").rsplit("/", 1)[1]
        current = api.get(f"/api/recognition/tasks/{task_id}/transcript").json()
        x1, y1, x2, y2 = current["transcript"]["lines"][0]["words"][0]["box"]
        moved = [x1 + 1, y1 + 1, x2 - 1, y2 - 1]
        page.locator(".tword[data-word='0-0']").click()
        word.fill(STRESSED + "й")
        word.press("Enter")
        theirs = api.patch(
            f"/api/recognition/tasks/{task_id}/transcript",
            headers={"If-Match": '"1"'},
            json={"edits": [{"op": "set_box", "line": 0, "word": 0, "box": moved}]},
        )
        assert theirs.status_code == 200, theirs.text
        page.get_by_test_id("save").click()
        expect(page.get_by_test_id("conflict")).to_be_visible()
        expect(page.get_by_test_id("their-changes")).to_contain_text("set_box 1:1")
        shot("10-conflict-412")
        page.get_by_test_id("reapply").click()
        expect(page.get_by_test_id("revision")).to_have_text("Ревизия 3")
        latest = api.get(f"/api/recognition/tasks/{task_id}/transcript").json()
        assert latest["revision"] == 3
        assert latest["transcript"]["lines"][0]["words"][0]["text"] == STRESSED + "й"
        assert latest["transcript"]["lines"][0]["words"][0]["box"] == moved  # their edit kept
        shot("11-conflict-recovered")

        # Export the card as PAGE XML: it validates against the published schema and has the word.
        with page.expect_download() as download:
            page.locator("[data-export=page]").first.click()
        saved = tmp_path / "card.xml"
        download.value.save_as(saved)
        xml = etree.parse(str(saved))
        load_schema("pagecontent-2019-07-15.xsd").assertValid(xml)
        assert STRESSED + "й" in saved.read_text(encoding="utf-8")

        # Search the corrected word (without its mark) and land on its line, highlighted on the scan.
        page.get_by_role("link", name="Поиск").click()
        page.fill("input[name=q]", "батюшкой")
        page.get_by_role("button", name="Найти").click()
        hit = page.locator(f"[data-hit='{task_id}']")
        expect(hit.locator("mark")).to_have_text(STRESSED + "й")
        shot("12-search")
        hit.locator("a").first.click()
        expect(page.get_by_test_id("line-hit")).to_be_attached()
        expect(page.locator(".tline.hit[data-line='0']")).to_be_visible()
        shot("13-search-landed")

        # Similar cards: the gallery's image search over the card scans, once the scans are indexed.
        def gallery_ready() -> bool:
            state = api.get("/api/images/index").json()["searchable"]
            total = api.get("/api/images", params={"directory": "cards"}).json()["total"]
            return state is not None and state["pending"] == 0 and total == 4

        deadline = time.monotonic() + WAIT_MS / 1000
        while not gallery_ready():
            assert time.monotonic() < deadline, "the card scans were never indexed"
            time.sleep(0.5)
        page.get_by_test_id("similar").click()
        expect(page.locator(".similar img")).to_have_count(3)
        page.wait_for_function("[...document.querySelectorAll('.similar img')].every(i => i.naturalWidth > 0)")
        shot("14-similar-cards")

        # English on request, kept across a reload.
        page.get_by_test_id("lang").click()
        expect(page.get_by_role("link", name="Batches")).to_be_visible()
        page.reload()
        expect(page.get_by_role("link", name="Batches")).to_be_visible()
        page.get_by_role("link", name="Batches").click()
        expect(page.get_by_test_id("batches")).to_contain_text("Пинега, ящик 3")
        shot("15-batches-english")

        # A reader (role user) sees the cards but no upload, edit or cancel control; the server refuses anyway.
        reader_email = "workbench-reader@example.org"
        made = api.post("/api/users", json={"email": reader_email, "role": "user"})
        assert made.status_code == 201, made.text
        reader = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
        other = reader.new_page()
        other.goto(base + "/")
        other.fill("input[name=email]", reader_email)
        before = smtp_server.messages
        other.get_by_role("button", name="Получить код").click()
        expect(other.locator("input[name=code]")).to_be_visible()
        other.fill("input[name=code]", new_code(smtp_server, reader_email, before))
        other.get_by_role("button", name="Войти").click()
        expect(other.get_by_test_id("who")).to_contain_text(f"{reader_email} · user")
        expect(other.get_by_role("link", name="Загрузка")).to_have_count(0)
        other.goto(card_url)
        expect(other.locator(".tword[data-word='0-0']")).to_have_text(STRESSED + "й")
        expect(other.get_by_test_id("save")).to_have_count(0)
        expect(other.get_by_test_id("delete-card")).to_have_count(0)
        expect(other.get_by_text("Только чтение")).to_be_visible()
        other.locator(".tword[data-word='0-0']").click()
        expect(other.get_by_test_id("word-input")).to_have_count(0)
        other.screenshot(path=str(ARTIFACTS / "16-reader-read-only.png"))
        other.get_by_role("link", name="← Назад").click()
        expect(other.locator(".vrow[data-status=completed]")).to_have_count(4)
        expect(other.get_by_test_id("delete-batch")).to_have_count(0)
        expect(other.locator(".vrow button")).to_have_count(0)  # no cancel or retry
        session = {c["name"]: c["value"] for c in reader.cookies()}["session_token"]
        refused = httpx.patch(
            f"{base}/api/recognition/tasks/{task_id}/transcript",
            cookies={"session_token": session},
            headers={"If-Match": '"3"'},
            json={"edits": [{"op": "delete_word", "line": 0, "word": 0}]},
        )
        assert refused.status_code == 403
        browser.close()
    assert foreign == [], f"requests to other hosts: {foreign}"
