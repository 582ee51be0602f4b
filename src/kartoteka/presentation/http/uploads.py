"""Reading multipart files without trusting their declared size."""

from __future__ import annotations

from fastapi import UploadFile

from kartoteka.application.recognition.submit_cards import Upload
from kartoteka.application.shared.uploads import RejectionKind, UploadRejectedError

CHUNK = 1024 * 1024


async def read_upload(file: UploadFile, max_bytes: int) -> Upload:
    """Read at most ``max_bytes`` + 1 so an oversize file is refused without buffering all of it."""
    name = file.filename or "(unnamed file)"
    parts: list[bytes] = []
    size = 0
    while chunk := await file.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise UploadRejectedError(name, RejectionKind.TOO_LARGE, f"larger than the {max_bytes} bytes accepted")
        parts.append(chunk)
    return Upload(filename=name, data=b"".join(parts))
