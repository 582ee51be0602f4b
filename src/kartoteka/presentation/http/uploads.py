"""Reading multipart files without trusting their declared size."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import UploadFile

from kartoteka.application.recognition.submit_cards import Upload, UploadLimits
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


async def read_uploads(files: Sequence[UploadFile], limits: UploadLimits) -> list[Upload]:
    """The files of a submission, counted before any is read.

    By the time a route runs, the parser has spooled each file over 1 MiB to a temporary file
    (and ``RequestBodyLimit`` has bounded the whole body), so too many files are refused here
    without reading one of them into memory.
    """
    if len(files) > limits.max_files:
        raise UploadRejectedError(
            None, RejectionKind.TOO_MANY_FILES, f"{len(files)} files; at most {limits.max_files} per request"
        )
    return [await read_upload(file, limits.max_upload_bytes) for file in files]
