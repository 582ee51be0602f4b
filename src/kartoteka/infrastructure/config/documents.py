"""How multi-page uploads (PDF, multi-page TIFF) are turned into card images.

A section of its own (``Settings.documents``) so that the page splitter depends on
what it needs, not on the whole configuration.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DocumentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pdf_dpi: int = Field(
        300,
        ge=50,
        le=1200,
        description="Resolution PDF pages are rasterised at. 300 dpi keeps pen strokes and stress marks legible "
        "for recognition; higher multiplies pixels (and time) by the square of the ratio.",
    )
    max_pages_per_file: int = Field(
        50,
        ge=1,
        le=10_000,
        description="Most pages taken from one PDF or multi-page TIFF. Pages are rendered while the request "
        "waits (about half a second each at 300 dpi), so a longer document is refused with a 413 before "
        "any page is rendered: split it, or raise this along with the clients' timeouts.",
    )
    max_pages: int = Field(
        500,
        ge=1,
        le=10_000,
        description="Most cards one submission makes in all, pages of every file together (and a bound on "
        "`max_pages_per_file`); a request past it is refused before the next document is rendered, so one "
        "request cannot tie up a thread for hours or hold thousands of rendered pages in memory.",
    )
