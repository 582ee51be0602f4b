"""A model hub on 127.0.0.1 serving local directories in the Hugging Face hub's HTTP layout.

Enough of the protocol for ``snapshot_download``: the revision info with the
file list, and ``resolve`` with the commit, ETag and length headers (HEAD and
GET). Unknown models and revisions answer as the hub does, so clients show
their real errors. Tests point ``HF_ENDPOINT`` here; nothing reaches the real hub.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote


@dataclass(frozen=True)
class HubRepo:
    directory: Path
    sha: str

    def files(self) -> list[str]:
        return sorted(p.relative_to(self.directory).as_posix() for p in self.directory.rglob("*") if p.is_file())


def repo_of(directory: Path) -> HubRepo:
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(path.read_bytes())
    return HubRepo(directory, digest.hexdigest())


class _Handler(BaseHTTPRequestHandler):
    repos: ClassVar[dict[str, HubRepo]] = {}

    def log_message(self, format: str, *args: object) -> None:  # the base class's name
        return

    def do_HEAD(self) -> None:  # http.server's naming
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        parts = [unquote(p) for p in self.path.split("?")[0].strip("/").split("/")]
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo_id = "/".join(parts[2:4])
            revision = parts[5] if len(parts) >= 6 and parts[4] == "revision" else "main"
            repo = self._repo(repo_id, revision)
            if repo is not None:
                info = {"id": repo_id, "sha": repo.sha, "siblings": [{"rfilename": f} for f in repo.files()]}
                self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, body)
            return
        if len(parts) >= 5 and parts[2] == "resolve":
            repo = self._repo("/".join(parts[:2]), parts[3])
            if repo is None:
                return
            path = repo.directory / "/".join(parts[4:])
            if not path.is_file():
                self._send(404, b"not found", {"X-Error-Code": "EntryNotFound"}, body)
                return
            data = path.read_bytes()
            headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
            self._send(200, data, {**headers, "Content-Type": "application/octet-stream"}, body)
            return
        self._send(404, b"not found", {}, body)

    def _repo(self, repo_id: str, revision: str) -> HubRepo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._send(401, b"Repository not found", {"X-Error-Code": "RepoNotFound"}, True)  # as the hub answers
            return None
        if revision not in {"main", repo.sha}:
            self._send(404, b"Invalid rev id", {"X-Error-Code": "RevisionNotFound"}, True)
            return None
        return repo

    def _send(self, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(key, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(data)


@contextmanager
def running_hub(repos: dict[str, Path]) -> Iterator[tuple[str, dict[str, HubRepo]]]:
    """Serve ``{owner/name: directory}``; yields the endpoint URL and each repo's commit."""
    served = {repo_id: repo_of(directory) for repo_id, directory in repos.items()}
    handler = type("Handler", (_Handler,), {"repos": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-hub", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()
