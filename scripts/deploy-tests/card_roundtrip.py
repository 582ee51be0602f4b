"""A user's first minutes against a running Kartoteka, over HTTP only (standard library, any python3).

Waits for ``/ready``, submits one card scan, waits until the worker has recognised it (``completed``),
and with ``--search`` until a gallery search by that scan finds the card itself. Exits non-zero with
the reason on any failure or when ``--timeout`` passes; prints what it saw, with the seconds since it started.

    python3 card_roundtrip.py http://127.0.0.1:8000 card.png [--search] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

START = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - START:6.1f}s] {message}", flush=True)


def request(url: str, data: bytes | None = None, content_type: str | None = None) -> tuple[int, Any]:
    """The status and the JSON body (or text); a connection failure is status 0."""
    headers = {"Content-Type": content_type} if content_type else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=30) as reply:
            status, body = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        return 0, str(error)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content, mime) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {mime}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def until(deadline: float, what: str, probe: Any, pause: float = 1.0) -> Any:
    """Call ``probe`` until it returns something true, or fail when the deadline passes."""
    last = None
    while time.monotonic() < deadline:
        done, last = probe()
        if done:
            return last
        time.sleep(pause)
    say(f"FAILED: no {what} before the timeout; last seen: {last}")
    sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("card", type=Path)
    parser.add_argument("--search", action="store_true", help="also find the scan in the gallery by example")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    deadline = time.monotonic() + args.timeout

    def ready() -> tuple[bool, Any]:
        status, body = request(f"{base}/ready")
        return status == 200, (status, body)

    say(f"ready: {until(deadline, '/ready 200', ready)}")

    scan = args.card.read_bytes()
    body, content_type = multipart({"batch_label": "deploy test"}, {"images": (args.card.name, scan, "image/png")})
    status, submitted = request(f"{base}/api/recognition/tasks", body, content_type)
    if status != 202:
        say(f"FAILED: submit answered {status}: {submitted}")
        sys.exit(1)
    task_id = submitted["tasks"][0]["id"]
    say(f"submitted {args.card.name}: task {task_id} ({submitted['tasks'][0]['status']})")

    def recognised() -> tuple[bool, Any]:
        status, task = request(f"{base}/api/recognition/tasks/{task_id}")
        if status == 200 and task["status"] in {"failed", "cancelled"}:
            say(f"FAILED: the task ended {task['status']}: {task}")
            sys.exit(1)
        return status == 200 and task["status"] == "completed", task

    task = until(deadline, "completed task", recognised)
    words = (task.get("text") or "").split()
    say(f"completed: attempt {task['attempt']}, {len(words)} words read (tiny models read noise): {words[:5]}")

    if args.search:
        body, content_type = multipart({"kind": "photo", "top_k": "5"}, {"image": (args.card.name, scan, "image/png")})

        # The card's scan joins the gallery (its ``task_id`` the task's) once worker-embedding has made its vector;
        # other images (a watched gallery) may answer before that, so the test waits for the card itself.
        def found() -> tuple[bool, Any]:
            status, page = request(f"{base}/api/images/similarity-search", body, content_type)
            hits = page.get("images", []) if status == 200 and isinstance(page, dict) else []
            return any(hit.get("task_id") == task_id for hit in hits), (status, page)

        _, page = until(deadline, "the card's scan among the gallery's hits", found, pause=2.0)
        card = next(hit for hit in page["images"] if hit.get("task_id") == task_id)
        rank = page["images"].index(card) + 1
        say(f"gallery: {page['total']} hits, the card's scan is hit {rank} with score {card.get('score')}")
    say("OK")


if __name__ == "__main__":
    main()
