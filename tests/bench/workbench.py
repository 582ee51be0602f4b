"""The workbench with a 1,000-card batch: time to first rows, to every row, to a scroll's end, and long tasks.

    python -m tests.bench.workbench [--cards 1000] [--keep]     # or: make bench-workbench

Starts a real ``kartoteka serve`` (embedded servers, no logins, the tiny models of ``kartoteka dev
fixtures``) in a fresh data directory, submits ``--cards`` small card scans in one request (one batch),
then opens the batch page in headless Chromium (Debian's, through Playwright) while the worker is
reading the cards, so status events stream in as the page renders. Measured in the page:

- first rows: navigation start to the first card row on screen;
- all loaded: to the snapshot of every card being in the list (the list is virtualised: the DOM holds a
  screenful whatever the batch size, which is also reported);
- scroll to end: from setting scrollTop to the bottom to the last row being drawn (two animation frames);
- long tasks: main-thread tasks over 50 ms during 10 s of live updates after loading (PerformanceObserver).

On this shared machine the worker and the servers compete with the browser for the same cores, so the
figures are pessimistic; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

from tests.harness.network import free_port

ROOT = Path(__file__).resolve().parents[2]
KARTOTEKA = str(Path(sys.executable).with_name("kartoteka"))


def small_card(n: int) -> bytes:
    image = Image.new("RGB", (160, 110), (246, 240, 225))
    ImageDraw.Draw(image).text((10, 40), f"карточка {n}", fill=(40, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def wait_ready(base: str, serve: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 240
    while True:
        if serve.poll() is not None:
            raise SystemExit(log.read_text(errors="replace")[-3000:])
        try:
            if httpx.get(base + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("serve never became ready")
        time.sleep(0.5)


def measure(base: str, batch_id: str, cards: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("no Chromium: apt-get install chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(
            "window.__long = []; new PerformanceObserver(l => l.getEntries().forEach(e => window.__long.push(e)))"
            ".observe({type: 'longtask', buffered: true});"
        )
        page.goto(f"{base}/batches/{batch_id}")
        page.wait_for_selector(".vrow[data-task]", timeout=120_000)
        # The page stamps the moment its first rows were committed (performance.now(), from navigation).
        first = float(page.get_attribute("[data-testid=batch]", "data-shown-at") or "nan")
        page.wait_for_function(
            f"document.querySelector('[data-testid=batch]')?.dataset.loaded === '{cards}'", timeout=300_000
        )
        loaded = page.evaluate("performance.now()")
        dom_rows = page.evaluate("document.querySelectorAll('.vrow[data-task]').length")
        scrolled = page.evaluate(
            """() => new Promise(done => {
                const list = document.querySelector('[data-testid=vlist]');
                const start = performance.now();
                list.scrollTop = list.scrollHeight;
                requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - start)));
            })"""
        )
        last_drawn = page.evaluate(
            "[...document.querySelectorAll('.vrow[data-task] > span:first-child')]"
            f".some(e => e.textContent === '{cards}')"
        )
        page.evaluate("window.__long = []")
        page.wait_for_timeout(10_000)  # a fixed window of live updates, measured, not waited for
        long_tasks = page.evaluate("window.__long.map(e => e.duration)")
        completed = page.evaluate("document.querySelectorAll('.vrow[data-status=completed]').length")
        browser.close()
    return {
        "first_rows_ms": first,
        "all_loaded_ms": loaded,
        "dom_rows": dom_rows,
        "scroll_to_end_ms": scrolled,
        "last_row_drawn": float(last_drawn),
        "long_tasks_10s": len(long_tasks),
        "longest_task_ms": max(long_tasks, default=0.0),
        "completed_rows_in_view": completed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    if not (ROOT / "web" / "dist" / "index.html").is_file():
        raise SystemExit("the workbench is not built: make web-build")

    work = Path(tempfile.mkdtemp(prefix="kartoteka-bench-web-"))
    work.chmod(0o755)  # PostgreSQL runs as a system user under root
    subprocess.run([KARTOTEKA, "dev", "fixtures", str(work / "fixtures")], check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARTOTEKA")}
    env.update(
        KARTOTEKA__API__PORT=str(port),
        KARTOTEKA__API__MAX_FILES=str(args.cards),
        KARTOTEKA__DOCUMENTS__MAX_PAGES=str(args.cards),
        KARTOTEKA__INFERENCE__DEVICE="cpu",
    )
    log = work / "serve.log"
    with open(log, "wb") as out:
        serve = subprocess.Popen(
            [KARTOTEKA, "--config", str(work / "fixtures" / "config.yaml"), "serve", "--data-dir", str(work / "data")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, serve, log)
        files = [("images", (f"card-{n:04}.png", small_card(n), "image/png")) for n in range(args.cards)]
        started = time.perf_counter()
        submitted = httpx.post(base + "/api/recognition/tasks", files=files, data={"batch_label": "bench"}, timeout=600)
        submitted.raise_for_status()
        print(f"submitted {args.cards} cards in {time.perf_counter() - started:.1f} s")
        figures = measure(base, submitted.json()["batch"]["id"], args.cards)
        for name, value in figures.items():
            print(f"{name:>24}: {value:,.1f}")
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGINT)
        serve.wait(timeout=120)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
