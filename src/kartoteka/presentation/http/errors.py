"""Every failure becomes JSON ``{"error", "detail"}`` with a status code that says whose fault it is."""

from __future__ import annotations

import logging
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kartoteka.application.gallery.errors import (
    EncoderUnavailableError,
    ImageNotEmbeddedError,
    IndexNotReadyError,
    QueryNotUsableError,
    TextSearchUnavailableError,
)
from kartoteka.application.recognition.errors import RejectionKind, TranscriptNotReadyError, UploadRejectedError
from kartoteka.application.recognition.ports.exports import UnknownExportFormatError
from kartoteka.application.recognition.ports.task_reader import InvalidCursorError
from kartoteka.application.recognition.ports.tasks import (
    BatchNotFoundError,
    ConcurrentUpdateError,
    RevisionNotFoundError,
    TaskNotFoundError,
)
from kartoteka.application.recognition.search_transcripts import InvalidSearchError
from kartoteka.application.shared.database import DatabaseUnavailableError
from kartoteka.application.shared.images import UnreadableImageError, UnsupportedImageError
from kartoteka.application.shared.storage import ObjectNotFoundError, StorageUnavailableError
from kartoteka.domain.gallery.image import (
    ImageConflictError,
    ImageNotDeletableError,
    ImageNotFoundError,
    InvalidGalleryPathError,
)
from kartoteka.domain.recognition.corrections import CorrectionError
from kartoteka.domain.recognition.revisions import StaleRevisionError
from kartoteka.domain.recognition.task import IllegalTransitionError

log = logging.getLogger(__name__)

_REJECTION_STATUS = {
    RejectionKind.EMPTY_REQUEST: 400,
    RejectionKind.TOO_MANY_FILES: 413,
    RejectionKind.TOO_LARGE: 413,
    RejectionKind.TOO_MANY_PIXELS: 413,
    RejectionKind.TOO_MANY_PAGES: 413,
    RejectionKind.UNSUPPORTED_TYPE: 415,
    RejectionKind.UNREADABLE: 422,
}


class MissingPreconditionError(Exception):
    """A change that must say which revision it was made against came without ``If-Match`` (HTTP 428)."""


def error(status: int, message: str, detail: object = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UploadRejectedError)
    async def rejected(_: Request, exc: UploadRejectedError) -> JSONResponse:
        return error(
            _REJECTION_STATUS[exc.kind],
            str(exc),
            {"file": exc.filename, "page": exc.page, "kind": exc.kind.value, "reason": exc.reason},
        )

    @app.exception_handler(TaskNotFoundError)
    async def not_found(_: Request, exc: TaskNotFoundError) -> JSONResponse:
        return error(404, str(exc), {"task_id": str(exc.task_id)})

    @app.exception_handler(BatchNotFoundError)
    async def batch_not_found(_: Request, exc: BatchNotFoundError) -> JSONResponse:
        return error(404, str(exc), {"batch_id": str(exc.batch_id)})

    @app.exception_handler(RevisionNotFoundError)
    async def revision_not_found(_: Request, exc: RevisionNotFoundError) -> JSONResponse:
        return error(
            404, str(exc), {"task_id": str(exc.task_id), "revision": exc.number, "latest_revision": exc.latest}
        )

    @app.exception_handler(TranscriptNotReadyError)
    async def not_ready(_: Request, exc: TranscriptNotReadyError) -> JSONResponse:
        return error(409, str(exc), {"task_id": str(exc.task_id), "status": exc.status.value})

    @app.exception_handler(StaleRevisionError)
    async def stale(_: Request, exc: StaleRevisionError) -> JSONResponse:
        headers = {"ETag": f'"{exc.current}"'} if exc.current is not None else None
        detail = {"task_id": str(exc.task_id), "expected_revision": exc.expected, "current_revision": exc.current}
        return error(412, str(exc), detail, headers)

    @app.exception_handler(MissingPreconditionError)
    async def precondition_required(_: Request, exc: MissingPreconditionError) -> JSONResponse:
        return error(428, str(exc), None)

    @app.exception_handler(CorrectionError)
    async def bad_edit(_: Request, exc: CorrectionError) -> JSONResponse:
        return error(422, f"the edit cannot be applied: {exc}", {"reason": str(exc)})

    @app.exception_handler(UnknownExportFormatError)
    async def unknown_format(_: Request, exc: UnknownExportFormatError) -> JSONResponse:
        return error(422, str(exc), {"format": exc.name, "formats": list(exc.known)})

    @app.exception_handler(InvalidSearchError)
    async def bad_search(_: Request, exc: InvalidSearchError) -> JSONResponse:
        return error(422, str(exc), None)

    @app.exception_handler(ObjectNotFoundError)
    async def object_missing(_: Request, exc: ObjectNotFoundError) -> JSONResponse:
        return error(404, "the stored image is missing", None)

    @app.exception_handler(IllegalTransitionError)
    async def conflict(_: Request, exc: IllegalTransitionError) -> JSONResponse:
        return error(409, str(exc), {"status": exc.current.value, "action": exc.action})

    @app.exception_handler(ConcurrentUpdateError)
    async def concurrent(_: Request, exc: ConcurrentUpdateError) -> JSONResponse:
        return error(409, str(exc), None)

    @app.exception_handler(InvalidCursorError)
    async def bad_cursor(_: Request, exc: InvalidCursorError) -> JSONResponse:
        return error(400, str(exc), None)

    @app.exception_handler(ImageNotFoundError)
    async def image_missing(_: Request, exc: ImageNotFoundError) -> JSONResponse:
        return error(404, f"no image {exc}" if isinstance(exc.args[0] if exc.args else None, UUID) else str(exc), None)

    @app.exception_handler(InvalidGalleryPathError)
    async def bad_path(_: Request, exc: InvalidGalleryPathError) -> JSONResponse:
        return error(400, str(exc), None)

    @app.exception_handler(ImageConflictError)
    @app.exception_handler(ImageNotDeletableError)
    @app.exception_handler(ImageNotEmbeddedError)
    async def gallery_conflict(_: Request, exc: Exception) -> JSONResponse:
        return error(409, str(exc), None)

    @app.exception_handler(QueryNotUsableError)
    @app.exception_handler(TextSearchUnavailableError)
    @app.exception_handler(UnreadableImageError)
    async def unusable(_: Request, exc: Exception) -> JSONResponse:
        return error(422, str(exc), None)

    @app.exception_handler(UnsupportedImageError)
    async def unsupported(_: Request, exc: UnsupportedImageError) -> JSONResponse:
        return error(415, str(exc), None)

    @app.exception_handler(IndexNotReadyError)
    @app.exception_handler(EncoderUnavailableError)
    async def no_index(_: Request, exc: Exception) -> JSONResponse:
        return error(503, str(exc), None)

    @app.exception_handler(DatabaseUnavailableError)
    @app.exception_handler(StorageUnavailableError)
    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable: %s", exc)
        return error(503, "a service Kartoteka depends on is unavailable; try again shortly", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return error(422, "the request is not valid", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(500, "internal error", type(exc).__name__)
