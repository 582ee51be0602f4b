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
    max_pages: int = Field(
        500,
        ge=1,
        le=10_000,
        description="Most pages taken from one PDF or multi-page TIFF, and most cards one submission makes "
        "in all; a longer document is refused before any page is rendered, so one upload cannot tie up a "
        "thread for hours or hold thousands of rendered pages in memory.",
    )
