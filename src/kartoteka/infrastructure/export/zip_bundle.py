"""Zip bundles of a batch's exports, with a manifest, written as a stream.

A batch can hold hundreds of cards, so the archive is produced card by card:
``add`` returns the bytes of that entry as soon as it is compressed and
``finish`` the manifest and the zip's central directory. The zip is written to
a sink that cannot seek, which makes ``zipfile`` use data descriptors instead
of going back to patch headers — the form every unzip tool reads, and the only
one an HTTP response can stream.

Scans are often named alike (``IMG_0001.jpg`` from two phones, ``scan.tif`` in
every folder), so names inside the zip are made unique, case-insensitively
because Windows and macOS unpack onto case-insensitive disks; the manifest maps
each name back to its task.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from kartoteka.application.recognition.ports.exports import BundledCard, BundleHeader
from kartoteka.infrastructure.export.support import PRODUCER, nfc, producer_version, utc

MANIFEST_NAME = "manifest.json"
MAX_STEM_LENGTH = 100
# Characters Windows refuses in file names; a zip carrying them unpacks badly there.
_UNSAFE = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}
)


def safe_stem(filename: str, fallback: str) -> str:
    """The original name without folders or extension, made safe to unpack on any system."""
    name = nfc(filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs"})
    name = _UNSAFE.sub("_", name)
    head, dot, _ = name.rpartition(".")
    stem = head if dot and head.strip(".") else name
    stem = stem.strip(" .")[:MAX_STEM_LENGTH].strip(" .")
    if stem.upper() in _WINDOWS_RESERVED:
        stem += "_"
    return stem or fallback


class UniqueNames:
    """Hands out entry names, appending ``-2``, ``-3``… when a name (ignoring case) is taken."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._taken = {name.casefold() for name in reserved}

    def claim(self, stem: str, extension: str) -> str:
        candidate = f"{stem}{extension}"
        counter = 1
        while candidate.casefold() in self._taken:
            counter += 1
            candidate = f"{stem}-{counter}{extension}"
        self._taken.add(candidate.casefold())
        return candidate


class _Chunks:
    """A write-only file: no ``tell``/``seek``, so ``zipfile`` streams instead of patching headers."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class ZipBundleWriter:
    """One zip being written; see the module docstring. Not thread-safe; one writer per response."""

    def __init__(self, header: BundleHeader, file_extension: str) -> None:
        self._header = header
        self._extension = file_extension
        self._sink = _Chunks()
        self._zip = zipfile.ZipFile(self._sink, mode="w", compression=zipfile.ZIP_DEFLATED)
        self._names = UniqueNames(reserved=[MANIFEST_NAME])
        self._cards: list[dict[str, Any]] = []
        self._finished = False
        created = utc(header.created_at)
        # Zip times are local-less and start in 1980; the batch time makes the archive reproducible.
        self._date_time = (
            max(created.year, 1980),
            created.month,
            created.day,
            created.hour,
            created.minute,
            created.second,
        )

    def add(self, card: BundledCard) -> bytes:
        if self._finished:
            raise RuntimeError("the bundle is already finished")
        entry: dict[str, Any] = {
            "task_id": str(card.task_id),
            "filename": nfc(card.filename),
            "status": card.status,
            "revision": card.revision,
            "file": None,
            "skipped_reason": card.skipped_reason,
        }
        if card.content is not None:
            name = self._names.claim(safe_stem(card.filename, str(card.task_id)), self._extension)
            self._write(name, card.content)
            entry["file"] = name
        self._cards.append(entry)
        return self._sink.take()

    def finish(self) -> bytes:
        if self._finished:
            raise RuntimeError("the bundle is already finished")
        self._finished = True
        exported = sum(1 for card in self._cards if card["file"] is not None)
        manifest = {
            "producer": {"name": PRODUCER, "version": producer_version()},
            "format": self._header.format,
            "file_extension": self._extension,
            "batch_id": str(self._header.batch_id) if self._header.batch_id else None,
            "label": nfc(self._header.label) if self._header.label is not None else None,
            "created_at": utc(self._header.created_at).isoformat(),
            "exported": exported,
            "skipped": len(self._cards) - exported,
            "cards": self._cards,
        }
        text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
        self._write(MANIFEST_NAME, text.encode("utf-8"))
        self._zip.close()
        return self._sink.take()

    def _write(self, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16  # a plain readable file when unpacked on Unix
        self._zip.writestr(info, data)


class ZipBundler:
    """ExportBundler writing zip archives."""

    media_type: str = "application/zip"
    file_extension: str = ".zip"

    def open(self, header: BundleHeader, file_extension: str) -> ZipBundleWriter:
        return ZipBundleWriter(header, file_extension)


def iter_zip_bundle(header: BundleHeader, file_extension: str, cards: Iterable[BundledCard]) -> Iterator[bytes]:
    """The archive as chunks, one per card and a last one for the manifest; cards are pulled lazily."""
    writer = ZipBundleWriter(header, file_extension)
    for card in cards:
        chunk = writer.add(card)
        if chunk:
            yield chunk
    yield writer.finish()


def write_zip_bundle(header: BundleHeader, file_extension: str, cards: Iterable[BundledCard]) -> bytes:
    """The whole archive in memory, for callers that store it (S3) rather than stream it."""
    return b"".join(iter_zip_bundle(header, file_extension, cards))
