"""What a huge submission costs the api in memory: 101 files of 10 MB, streamed without a Content-Length.

Not part of the suite (no assertion on a figure): run it with
``.venv/bin/python -m pytest tests/bench/upload_memory.py -s -p no:randomly`` and read the printed peak.
Before the request limits, the api read every file before counting them (381 MB → 1.4 GB for this
request); now the body is refused at ``api.max_request_bytes`` while it streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kartoteka.infrastructure.config.settings import Settings
from tests.integration.http.conftest import api_settings, client_for

FILES = 101
BOUNDARY = "kartoteka-bench-boundary"


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _reset_peak() -> None:
    """Reset the peak (VmHWM) to what is resident now."""
    Path("/proc/self/clear_refs").write_text("5")


async def body(file_bytes: int) -> AsyncIterator[bytes]:
    chunk = b"\xff" * (1024 * 1024)
    for number in range(FILES):
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="images"; filename="{number}.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        for _ in range(file_bytes // len(chunk)):
            yield chunk
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("file_mib", [10, 2])  # over api.max_request_bytes in all; under it, but too many files
async def test_a_huge_streamed_submission(
    migrated_database: str, s3_server: object, redis_server: object, file_mib: int
) -> None:
    settings: Settings = api_settings(
        migrated_database,
        s3_server,  # type: ignore[arg-type]
        redis_server,  # type: ignore[arg-type]
        api={"max_upload_bytes": 30 * 1024 * 1024, "max_files": 100},
    )
    async for client in client_for(settings):
        await client.get("/health")
        _reset_peak()
        before = _status("VmRSS")
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        response = await client.post("/api/recognition/tasks", content=body(file_mib * 2**20), headers=headers)
        peak = _status("VmHWM")
        print(
            f"\n{FILES} x {file_mib} MiB streamed: {response.status_code} "
            f"{response.json()['error']!r}; resident before {before / 2**20:.0f} MiB, "
            f"peak during {peak / 2**20:.0f} MiB (+{(peak - before) / 2**20:.0f} MiB)"
        )
