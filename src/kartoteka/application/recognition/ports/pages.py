"""Splitting an uploaded document into the page images that become cards.

Archives scan whole boxes of cards into one multi-page PDF or TIFF; recognition
works on one card image at a time. The port hands the use case a list of page
images in document order and refuses, before any page is stored, a document it
cannot read, one with too many pages, or a page too large to decode safely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PageImage:
    """One page of an upload, as an image file of its own.

    ``page_number`` counts from 1 in document order. A plain image upload is one
    page whose ``filename`` and ``data`` are the upload's own; pages cut from a
    PDF or multi-page TIFF are named ``<stem>-p001.png`` (zero-padded to at least
    three digits, so names sort in page order) after the source file.
    """

    filename: str
    data: bytes
    media_type: str
    page_number: int
    page_count: int
    source_filename: str


class PageSplitError(Exception):
    """An upload could not be split into pages; nothing of it should be stored."""

    def __init__(self, filename: str, reason: str, page_number: int | None = None) -> None:
        where = f"{filename}: " if filename else ""
        page = f"page {page_number}: " if page_number is not None else ""
        super().__init__(where + page + reason)
        self.filename = filename
        self.reason = reason
        self.page_number = page_number


class UnreadableDocumentError(PageSplitError):
    """The PDF or TIFF is corrupt, truncated, password-protected or has no pages."""


class PageTooLargeError(PageSplitError):
    """A page has (or, for a PDF, would have at the configured resolution) more pixels than allowed."""

    def __init__(
        self, filename: str, page_number: int, width: int, height: int, max_pixels: int, detail: str = ""
    ) -> None:
        super().__init__(
            filename,
            f"{width}×{height} = {width * height} pixels{detail}, more than the {max_pixels} allowed",
            page_number,
        )
        self.width = width
        self.height = height
        self.max_pixels = max_pixels


class DecodeLimitError(PageSplitError):
    """The document (or one of its frames) declares more pixels than can be decoded safely: a decompression bomb."""


class TooManyPagesError(PageSplitError):
    """The document has more pages than one upload may bring."""

    def __init__(self, filename: str, page_count: int, max_pages: int) -> None:
        super().__init__(filename, f"{page_count} pages; at most {max_pages} are accepted from one file")
        self.page_count = page_count
        self.max_pages = max_pages


class PageSplitter(Protocol):
    async def split(self, data: bytes, filename: str) -> list[PageImage]:
        """The upload's pages in order; raise a PageSplitError subclass when it cannot be split."""
        ...
