"""An image of the gallery and where it lives.

Every image has one place in the gallery (a folder and a name, as the web UI
shows it) and one place its bytes are kept: a file read in place inside a
watched root, or an object in S3 (uploads and card scans). The two are kept
apart so that a file moving on disk is the same image moving in the gallery,
with the same id and vectors.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.text import first_non_text

TOP = "."
# Bytes (UTF-8) of a file name, as most filesystems allow, and of a folder path: together they stay
# well inside what a PostgreSQL b-tree index entry may hold (about 2.7 kB), so a path is always indexable.
MAX_NAME_BYTES = 255
MAX_DIRECTORY_BYTES = 2048
# Folders an upload may be put in, counted from the top: deep enough for any archive's shelving, and
# far from what would make the folder tree costly to build and send (a watched disk may hold deeper ones).
MAX_UPLOAD_DEPTH = 32


class ImageSource(StrEnum):
    DIRECTORY = "directory"
    UPLOAD = "upload"
    CARD = "card"


class InvalidGalleryPathError(Refusal, ValueError):
    """A folder or file name that would leave the gallery (``..``, absolute) or is not a name at all."""

    kind = ErrorKind.MALFORMED


class ImageNotFoundError(Refusal, LookupError):
    """No image with that id (or its bytes are gone); the message names which."""

    kind = ErrorKind.NOT_FOUND

    def __init__(self, what: UUID | str) -> None:
        super().__init__(f"no image {what}" if isinstance(what, UUID) else what)


class ImageConflictError(Refusal):
    """An image with that folder and name exists already; nothing is ever silently overwritten."""

    kind = ErrorKind.CONFLICT


class ImageNotDeletableError(Refusal):
    """The image is a file in a watched directory, which Kartoteka reads but never modifies."""

    kind = ErrorKind.CONFLICT


def _utf8_length(text: str, given: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no database or filesystem can store it
        raise InvalidGalleryPathError(f"{given[:40]!r} is not valid Unicode") from None


def normalize_directory(value: str | None) -> str:
    """A folder as the gallery stores it: POSIX, relative, no trailing slash, ``.`` for the top.

    Refuses anything that climbs out (``..``) or is absolute, so a client-given folder can never
    point outside the gallery.
    """
    if value is None:
        return TOP
    if (found := first_non_text(value)) is not None:
        raise InvalidGalleryPathError(f"folder {value[:40]!r} holds a control character (U+{ord(found[1]):04X})")
    text = value.replace("\\", "/").strip()
    if text in {"", TOP, "./", "/"}:
        return TOP
    if text.startswith("/"):
        raise InvalidGalleryPathError(f"folder {value!r} must be relative to the gallery")
    parts = [p for p in text.split("/") if p not in {"", "."}]
    if any(p == ".." for p in parts):
        raise InvalidGalleryPathError(f"folder {value!r} leaves the gallery")
    folder = "/".join(parts) or TOP
    if _utf8_length(folder, value) > MAX_DIRECTORY_BYTES:
        raise InvalidGalleryPathError(f"folder {folder[:40]!r}… is longer than {MAX_DIRECTORY_BYTES} bytes")
    return folder


def validate_name(name: str) -> str:
    """A file name without any folder part; client-given names are never trusted as paths."""
    cleaned = name.strip()
    if (found := first_non_text(cleaned)) is not None:
        raise InvalidGalleryPathError(f"file name {name[:40]!r} holds a control character (U+{ord(found[1]):04X})")
    if cleaned in {"", ".", ".."} or "/" in cleaned or "\\" in cleaned:
        raise InvalidGalleryPathError(f"{name!r} is not a file name")
    if _utf8_length(cleaned, name) > MAX_NAME_BYTES:
        raise InvalidGalleryPathError(f"file name {cleaned[:40]!r}… is longer than {MAX_NAME_BYTES} bytes")
    return cleaned


def check_upload_depth(directory: str) -> str:
    """``directory`` (normalised) if an upload may go there: at most MAX_UPLOAD_DEPTH folders deep."""
    depth = 0 if directory == TOP else directory.count("/") + 1
    if depth > MAX_UPLOAD_DEPTH:
        raise InvalidGalleryPathError(
            f"folder {directory[:40]!r}… is {depth} levels deep; uploads go at most {MAX_UPLOAD_DEPTH} deep"
        )
    return directory


def gallery_path(directory: str, name: str) -> str:
    folder = normalize_directory(directory)
    return validate_name(name) if folder == TOP else f"{folder}/{validate_name(name)}"


def split_path(path: str) -> tuple[str, str]:
    """(folder, name) of a gallery path."""
    folder, name = posixpath.split(path)
    return (folder or TOP), name


def parent_directories(directory: str) -> list[str]:
    """Every folder from the top down to ``directory`` itself (without ``.``)."""
    if directory == TOP:
        return []
    parts = directory.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(slots=True)
class GalleryImage:
    id: UUID
    source: ImageSource
    path: str
    name: str
    directory: str
    size: int
    content_hash: str
    created_at: datetime
    modified_at: datetime
    media_type: str = ""
    width: int | None = None
    height: int | None = None
    root: str | None = None  # watched root name, for DIRECTORY images
    root_path: str | None = None  # path of the file inside that root
    mtime_ns: int | None = None
    object_key: str | None = None  # S3 key, for UPLOAD and CARD images
    task_id: UUID | None = None  # the recognition task a CARD image came from
    thumbnail_key: str | None = None
    error: str | None = None
    uploaded_by: str | None = None  # who uploaded an UPLOAD image

    def move_to(self, path: str) -> None:
        self.path = path
        self.directory, self.name = split_path(path)


@dataclass(frozen=True, slots=True)
class RootMount:
    """Where a watched root shows in the gallery: at the top when it is the only one, else in its own folder."""

    name: str
    folder: str = TOP

    def gallery_path(self, root_path: str) -> str:
        return root_path if self.folder == TOP else f"{self.folder}/{root_path}"

    def gallery_directory(self, root_directory: str) -> str:
        if self.folder == TOP:
            return root_directory
        return self.folder if root_directory == TOP else f"{self.folder}/{root_directory}"


def mounts_for(names: list[str]) -> dict[str, RootMount]:
    if len(names) == 1:
        return {names[0]: RootMount(names[0])}
    return {name: RootMount(name, normalize_directory(name)) for name in names}
