"""Exporting transcripts: one card in one format, or a whole batch as an archive.

The latest revision is exported unless another is asked for, so a file sent
to Transkribus or a library carries the linguist's corrections, and says
which revision it is and who made it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID

from kartoteka.application.recognition.errors import TranscriptNotReadyError
from kartoteka.application.recognition.ports.exports import (
    BundledCard,
    BundleHeader,
    ExportBundler,
    ExportDocument,
    ExportFormats,
    TranscriptExporter,
)
from kartoteka.application.recognition.ports.tasks import BatchNotFoundError, RevisionNotFoundError, UnitOfWork
from kartoteka.application.shared.clock import Clock
from kartoteka.domain.recognition.revisions import RevisionKind, TranscriptRevision
from kartoteka.domain.recognition.task import RecognitionTask, TaskStatus


@dataclass(frozen=True, slots=True)
class ExportedFile:
    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class ExportedBundle:
    """An archive produced piece by piece while it is sent; ``chunks`` renders the cards lazily."""

    filename: str
    media_type: str
    chunks: Iterator[bytes]


def export_document(task: RecognitionTask, revision: TranscriptRevision) -> ExportDocument:
    """What an exporter may say about a card: its scan, its revision and who made that revision."""
    corrected = revision.kind is RevisionKind.CORRECTION
    return ExportDocument(
        transcript=revision.transcript,
        task_id=task.id,
        image_filename=task.image.filename,
        image_width=task.image.width,
        image_height=task.image.height,
        image_media_type=task.image.content_type,
        revision=revision.number,
        created_at=task.created_at,
        revised_by=revision.author if corrected else None,
        revised_at=revision.created_at if revision.number > 0 else None,
    )


def file_stem(filename: str, fallback: str) -> str:
    """The scan's name without folders or extension: ``scans/Пинега-12.tif`` → ``Пинега-12``."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    head, dot, _ = name.rpartition(".")
    stem = head if dot and head else name
    return stem.strip() or fallback


class ExportTranscript:
    def __init__(self, uow: Callable[[], UnitOfWork], formats: ExportFormats) -> None:
        self._uow = uow
        self._formats = formats

    async def __call__(self, task_id: UUID, format_name: str, revision: int | None = None) -> ExportedFile:
        exporter = self._formats.get(format_name)  # an unknown format is refused before anything is read
        async with self._uow() as uow:
            task = await uow.tasks.get(task_id)
            if task.status is not TaskStatus.COMPLETED or task.revision is None:
                raise TranscriptNotReadyError(task.id, task.status)
            if revision is not None and not 0 <= revision <= task.revision:
                raise RevisionNotFoundError(task.id, revision, task.revision)
            chosen = await uow.revisions.get(task.id, task.revision if revision is None else revision)
        stem = file_stem(task.image.filename, str(task.id))
        if revision is not None:
            stem += f".r{chosen.number}"
        content = exporter.render(export_document(task, chosen))
        return ExportedFile(stem + exporter.file_extension, exporter.media_type, content)


class ExportBatch:
    """Every card of a batch in one format, as an archive with a manifest; cards without a transcript are listed."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        formats: ExportFormats,
        bundler: ExportBundler,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._formats = formats
        self._bundler = bundler
        self._clock = clock

    async def __call__(self, batch_id: UUID, format_name: str) -> ExportedBundle:
        name = format_name.strip().lower()
        exporter = self._formats.get(name)
        async with self._uow() as uow:
            batch = await uow.batches.get(batch_id)
            if batch is None:
                raise BatchNotFoundError(batch_id)
            tasks = await uow.tasks.in_batch(batch_id)
            latest = await uow.revisions.latest_of([t.id for t in tasks if t.status is TaskStatus.COMPLETED])
        header = BundleHeader(format=name, created_at=self._clock(), batch_id=batch.id, label=batch.label)
        stem = file_stem(batch.label, "") if batch.label else ""
        filename = f"{stem or f'batch-{batch.id}'}-{name}{self._bundler.file_extension}"
        chunks = self._render(header, exporter, tasks, latest)
        return ExportedBundle(filename, self._bundler.media_type, chunks)

    def _render(
        self,
        header: BundleHeader,
        exporter: TranscriptExporter,
        tasks: Sequence[RecognitionTask],
        latest: dict[UUID, TranscriptRevision],
    ) -> Iterator[bytes]:
        writer = self._bundler.open(header, exporter.file_extension)
        for task in tasks:
            revision = latest.get(task.id)
            if revision is None:
                card = BundledCard(
                    task.id,
                    task.image.filename,
                    task.status.value,
                    task.revision,
                    None,
                    skipped_reason=f"the card is {task.status.value}: it has no completed transcript",
                )
            else:
                content = exporter.render(export_document(task, revision))
                card = BundledCard(task.id, task.image.filename, task.status.value, revision.number, content)
            chunk = writer.add(card)
            if chunk:
                yield chunk
        yield writer.finish()
