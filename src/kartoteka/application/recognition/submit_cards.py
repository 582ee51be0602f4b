"""SubmitCards: a linguist uploads one or many scans; each card becomes a queued recognition task.

All or nothing: every file is checked before any byte is stored, and if
storing or committing fails, the objects already written are removed, so a
refused or failed request leaves neither tasks nor orphaned scans behind.

Archives scan whole boxes of cards into one PDF or multi-page TIFF, so a file
may hold many cards: every page becomes a card of its own, in page order, all
in one batch, each checked like a single scan (a page too large refuses the
request and names the file and the page).

Limits: ``max_files`` counts the files of a request, as the name says, and
``max_cards`` the cards they become, pages included. Each is checked before
the work it bounds: the file count before anything is read, each document's
page count before its pages are rendered (the splitter's own ``max_pages``),
and the running card total after each document, so a request can never make
more than ``max_cards`` tasks, and never renders more than one document past
the point where it is refused.

Retries: a request with an ``Idempotency-Key`` records the key (with who sent it and a fingerprint of
its label and files) in the transaction that makes its tasks. A retry with the same key and files makes
nothing and answers with those tasks; two such requests at once make one submission (the loser's
insert of the key fails, its transaction and objects are undone, and it answers like a retry).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from kartoteka.application.recognition.ports.pages import (
    DecodeLimitError,
    PageImage,
    PageSplitError,
    PageSplitter,
    PageTooLargeError,
    TooManyPagesError,
)
from kartoteka.application.recognition.ports.tasks import (
    Batch,
    SubmissionKey,
    SubmissionKeyTakenError,
    TaskNotFoundError,
    UnitOfWork,
)
from kartoteka.application.shared.clock import Clock, NewId
from kartoteka.application.shared.images import (
    ImageInfo,
    ImageInspector,
    ImageTooLargeError,
    UnreadableImageError,
    UnsupportedImageError,
)
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.application.shared.uploads import RejectionKind, UploadRejectedError
from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.recognition.task import CardImage, RecognitionTask, SourcePage
from kartoteka.domain.text import first_non_text, plain_text


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_upload_bytes: int
    max_pixels: int
    max_files: int
    max_cards: int = 10_000
    max_request_bytes: int = 256 * 1024 * 1024  # all files of one request together (the api checks it)


@dataclass(frozen=True, slots=True)
class _Card:
    """One page of one upload, checked and ready to store."""

    page: PageImage
    info: ImageInfo
    source: SourcePage | None


@dataclass(frozen=True, slots=True)
class Submission:
    batch: Batch | None
    tasks: tuple[RecognitionTask, ...]
    replayed: bool = False  # the answer to an earlier request with the same Idempotency-Key


MAX_IDEMPOTENCY_KEY_LENGTH = 255


class IdempotencyKeyReusedError(Refusal):
    """The key was used before for a request with other files or another label."""

    kind = ErrorKind.INVALID


def fingerprint(uploads: Sequence[Upload], batch_label: str | None) -> str:
    """What makes two submissions the same request: the label, and every file's name and bytes, in order."""
    digest = hashlib.sha256(repr(batch_label).encode())
    for upload in uploads:
        digest.update(hashlib.sha256(upload.filename.encode("utf-8", "surrogatepass")).digest())
        digest.update(hashlib.sha256(upload.data).digest())
    return digest.hexdigest()


def card_key(task_id: UUID, extension: str) -> str:
    """Keyed by the task's own id: two uploads can never collide, whatever their file names."""
    return f"cards/{task_id}/original{extension}"


class SubmitCards:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        inspector: ImageInspector,
        limits: UploadLimits,
        clock: Clock,
        new_id: NewId,
        splitter: PageSplitter,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._inspector = inspector
        self._limits = limits
        self._clock = clock
        self._new_id = new_id
        self._splitter = splitter

    async def __call__(
        self,
        uploads: Sequence[Upload],
        batch_label: str | None = None,
        *,
        submitted_by: str | None = None,
        idempotency_key: str | None = None,
    ) -> Submission:
        """``idempotency_key``: a retry of a request with this key (same caller, same files) creates nothing
        and answers with what the first made; the same key with other files is refused."""
        key: SubmissionKey | None = None
        if idempotency_key is not None:
            key = self._key(idempotency_key, submitted_by, fingerprint(uploads, batch_label))
            async with self._uow() as uow:
                earlier = await uow.submission_keys.get(key.scope, key.key)
            if earlier is not None:
                return await self._replay(earlier, key)
        try:
            return await self._submit(uploads, batch_label, submitted_by, key)
        except SubmissionKeyTakenError:
            # A concurrent request with the key committed first; this one stored nothing (see _submit).
            assert key is not None
            async with self._uow() as uow:
                earlier = await uow.submission_keys.get(key.scope, key.key)
            if earlier is None:
                raise
            return await self._replay(earlier, key)

    def _key(self, value: str, submitted_by: str | None, request_print: str) -> SubmissionKey:
        plain_text(value, "Idempotency-Key")
        if not value.strip() or len(value) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise Refusal(
                f"an Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters", {"field": "Idempotency-Key"}
            )
        return SubmissionKey(submitted_by or "", value, request_print, None, (), self._clock())

    async def _replay(self, earlier: SubmissionKey, asked: SubmissionKey) -> Submission:
        if earlier.fingerprint != asked.fingerprint:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used for another request (other files or label); use a new key",
                {"field": "Idempotency-Key"},
            )
        async with self._uow() as uow:
            batch = await uow.batches.get(earlier.batch_id) if earlier.batch_id is not None else None
            tasks = []
            for task_id in earlier.task_ids:
                with contextlib.suppress(TaskNotFoundError):  # deleted since: the answer is what is left
                    tasks.append(await uow.tasks.get(task_id))
        return Submission(batch=batch, tasks=tuple(tasks), replayed=True)

    async def _submit(
        self,
        uploads: Sequence[Upload],
        batch_label: str | None,
        submitted_by: str | None,
        recorded: SubmissionKey | None,
    ) -> Submission:
        if not uploads:
            raise UploadRejectedError(None, RejectionKind.EMPTY_REQUEST, "no image files in the request")
        if len(uploads) > self._limits.max_files:
            raise UploadRejectedError(
                None,
                RejectionKind.TOO_MANY_FILES,
                f"{len(uploads)} files; at most {self._limits.max_files} per request",
            )
        if batch_label is not None:
            plain_text(batch_label, "batch_label")
        for upload in uploads:
            if upload.filename and (found := first_non_text(upload.filename)) is not None:
                raise UploadRejectedError(
                    upload.filename.encode("unicode_escape").decode("ascii"),
                    RejectionKind.INVALID_NAME,
                    f"the file name holds a control character (U+{ord(found[1]):04X}); it must be plain text",
                )
        cards: list[_Card] = []
        for upload in uploads:
            pages = await self._pages(upload)
            if len(cards) + len(pages) > self._limits.max_cards:
                raise UploadRejectedError(
                    upload.filename or "(unnamed file)",
                    RejectionKind.TOO_MANY_PAGES,
                    f"the request would make more than {self._limits.max_cards} cards "
                    f"({len(cards)} before this file, {len(pages)} in it)",
                )
            cards += [await self._check(upload, page) for page in pages]

        now = self._clock()
        batch = Batch(self._new_id(), batch_label, now) if len(cards) > 1 or batch_label else None
        tasks = []
        for position, card in enumerate(cards):
            task_id = self._new_id()
            image = CardImage(
                key=card_key(task_id, card.info.extension),
                filename=card.page.filename,
                content_type=card.info.content_type,
                size=len(card.page.data),
                width=card.info.width,
                height=card.info.height,
                source=card.source,
            )
            tasks.append(
                RecognitionTask.submit(
                    task_id,
                    image,
                    now,
                    batch_id=batch.id if batch else None,
                    batch_position=position if batch else None,
                    submitted_by=submitted_by,
                )
            )

        stored: list[str] = []
        try:
            for task, card in zip(tasks, cards, strict=True):
                await self._storage.put(task.image.key, card.page.data, task.image.content_type)
                stored.append(task.image.key)
            async with self._uow() as uow:
                if batch is not None:
                    await uow.batches.add(batch)
                for task in tasks:
                    await uow.tasks.add(task)
                if recorded is not None:  # in the same transaction: both, or neither
                    made = tuple(task.id for task in tasks)
                    batch_id = batch.id if batch else None
                    await uow.submission_keys.add(replace(recorded, batch_id=batch_id, task_ids=made))
                await uow.commit()
        except BaseException:
            for key in stored:
                with contextlib.suppress(Exception):
                    await self._storage.delete(key)
            raise
        return Submission(batch=batch, tasks=tuple(tasks))

    async def _pages(self, upload: Upload) -> list[PageImage]:
        """The upload's pages in order (itself, for a plain image), or a rejection naming the file and page."""
        name = upload.filename or "(unnamed file)"
        if not upload.data:
            raise UploadRejectedError(name, RejectionKind.UNREADABLE, "the file is empty")
        if len(upload.data) > self._limits.max_upload_bytes:
            raise UploadRejectedError(
                name,
                RejectionKind.TOO_LARGE,
                f"{len(upload.data)} bytes; at most {self._limits.max_upload_bytes} are accepted",
            )
        try:
            return await self._splitter.split(upload.data, name)
        except (PageTooLargeError, DecodeLimitError) as exc:
            raise UploadRejectedError(name, RejectionKind.TOO_MANY_PIXELS, exc.reason, exc.page_number) from None
        except TooManyPagesError as exc:
            raise UploadRejectedError(name, RejectionKind.TOO_MANY_PAGES, exc.reason) from None
        except PageSplitError as exc:
            raise UploadRejectedError(name, RejectionKind.UNREADABLE, exc.reason, exc.page_number) from None

    async def _check(self, upload: Upload, page: PageImage) -> _Card:
        name = upload.filename or "(unnamed file)"
        from_document = page.filename != page.source_filename
        number = page.page_number if from_document else None
        try:
            info = await self._inspector.inspect(page.data, self._limits.max_pixels)
        except UnsupportedImageError as exc:
            raise UploadRejectedError(name, RejectionKind.UNSUPPORTED_TYPE, str(exc), number) from None
        except ImageTooLargeError as exc:
            raise UploadRejectedError(name, RejectionKind.TOO_MANY_PIXELS, str(exc), number) from None
        except UnreadableImageError as exc:
            raise UploadRejectedError(name, RejectionKind.UNREADABLE, str(exc), number) from None
        if info.width * info.height > self._limits.max_pixels:
            raise UploadRejectedError(
                name,
                RejectionKind.TOO_MANY_PIXELS,
                f"{info.width}×{info.height} pixels; at most {self._limits.max_pixels} are accepted",
                number,
            )
        source = SourcePage(page.source_filename, page.page_number, page.page_count) if from_document else None
        return _Card(page, info, source)
