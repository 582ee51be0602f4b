"""Turning one card's transcript into a file a linguist or another tool can use, and many into a bundle.

Archives take transcripts into other systems (Transkribus, eScriptorium, library
repositories), each speaking its own format, so the use cases ask for an exporter
by format name and get bytes back; which XML library writes them is the adapter's
business. Everything an export may mention about the card travels in one
``ExportDocument`` so that formats never reach back into storage or the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from kartoteka.domain.errors import Refusal
from kartoteka.domain.recognition.transcript import Transcript


@dataclass(frozen=True, slots=True)
class ExportDocument:
    """One card as an export sees it: the transcript plus what is known about its scan and history.

    ``image_width``/``image_height`` are the stored scan's size as validated at
    upload; the transcript's own ``width``/``height`` are the pixels its boxes are
    measured in (after EXIF orientation), which is what layout formats describe.
    ``revision`` 0 is the models' output; a correction raises it and names who
    made it (``revised_by``) and when; a later machine reading (a re-run) raises
    it too, with a time but no editor.
    """

    transcript: Transcript
    task_id: UUID
    image_filename: str
    image_width: int
    image_height: int
    image_media_type: str
    revision: int
    created_at: datetime
    revised_by: str | None = None
    revised_at: datetime | None = None

    @property
    def last_change(self) -> datetime:
        """When the text last changed: the latest revision, else the task's creation."""
        return self.revised_at or self.created_at


class TranscriptExporter(Protocol):
    """Renders one card in one format; pure and synchronous (a card's transcript is small)."""

    @property
    def media_type(self) -> str:
        """The Content-Type to serve the bytes with."""
        ...

    @property
    def file_extension(self) -> str:
        """Suffix for a download or a bundle entry, with the leading dot (``.page.xml``)."""
        ...

    def render(self, document: ExportDocument) -> bytes: ...


class UnknownExportFormatError(Refusal, LookupError):
    """The format asked for is not one Kartoteka writes; the message lists those it does."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(
            f"unknown export format {name!r}; choose one of: {', '.join(self.known)}",
            {"format": name, "formats": list(self.known)},
        )


class ExportFormats:
    """The exporters by format name (``txt``, ``json``, ``page``, ``alto``), looked up case-insensitively.

    The HTTP layer takes the name from a query string; a misspelt one must be a
    clear 4xx naming the valid choices, not a KeyError.
    """

    def __init__(self, exporters: Mapping[str, TranscriptExporter]) -> None:
        self._exporters = {name.strip().lower(): exporter for name, exporter in exporters.items()}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._exporters)

    def get(self, name: str) -> TranscriptExporter:
        try:
            return self._exporters[name.strip().lower()]
        except KeyError:
            raise UnknownExportFormatError(name, self._exporters) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self._exporters


@dataclass(frozen=True, slots=True)
class BundleHeader:
    """What a batch export says about itself in its manifest."""

    format: str
    created_at: datetime
    batch_id: UUID | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class BundledCard:
    """One card of a batch export: its rendered file, or why it has none.

    A card that is still running or has failed has no transcript to export; it
    is listed in the manifest with ``skipped_reason`` so the archive can see
    which cards are missing and why, instead of a silently short bundle.
    """

    task_id: UUID
    filename: str
    status: str
    revision: int | None
    content: bytes | None
    skipped_reason: str | None = None

    def __post_init__(self) -> None:
        if (self.content is None) == (self.skipped_reason is None):
            raise ValueError("a bundled card has either content or a reason it was skipped, not both or neither")


class BundleWriter(Protocol):
    """An archive being written; each call returns the bytes that are ready, so a response can stream."""

    def add(self, card: BundledCard) -> bytes:
        """Append one card (or record it as skipped); returns the archive bytes produced so far."""
        ...

    def finish(self) -> bytes:
        """Write the manifest and the archive's directory; returns the last bytes."""
        ...


class ExportBundler(Protocol):
    """Makes archives of many cards' exports with a manifest (a zip, in the adapter)."""

    @property
    def media_type(self) -> str: ...

    @property
    def file_extension(self) -> str: ...

    def open(self, header: BundleHeader, file_extension: str) -> BundleWriter:
        """Start an archive whose card files end in ``file_extension`` (the exporter's)."""
        ...
