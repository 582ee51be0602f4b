"""What every export format agrees on: canonical text, UTC timestamps, whole-pixel rectangles.

Formats are read side by side (a PAGE file next to its ALTO twin, a JSON dump
next to both), so the rules that could make them disagree live here once.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata

from kartoteka.application.recognition.ports.exports import ExportDocument
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.transcript import ModelIdentity, TranscriptLine

PRODUCER = "Kartoteka"

# Code points XML 1.0 cannot carry at all (even escaped): C0 controls but TAB/LF/CR, surrogates, U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def nfc(text: str) -> str:
    """Stress marks must reach the file as the linguist saw them: composed where Unicode composes, never dropped."""
    return unicodedata.normalize("NFC", text)


def xml_text(text: str) -> str:
    """NFC text with the code points XML 1.0 forbids removed; lxml refuses them rather than escaping."""
    return _NOT_XML.sub("", nfc(text))


def producer_version() -> str:
    """Kartoteka's installed version, for provenance; empty when running from an uninstalled tree."""
    try:
        return metadata.version("kartoteka")
    except metadata.PackageNotFoundError:
        return ""


def utc(moment: datetime) -> datetime:
    """PAGE demands UTC; a naive time is taken to be UTC already (the clock port hands out aware UTC times)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def xsd_datetime(moment: datetime) -> str:
    """An ``xsd:dateTime`` in UTC to the second, with a ``Z``."""
    return utc(moment).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def confidence(value: float) -> float | None:
    """A score within the 0..1 both schemas demand, or None when the model gave no usable number."""
    if math.isnan(value):
        return None
    return min(1.0, max(0.0, value))


def format_confidence(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") or "0"


def page_size(document: ExportDocument) -> tuple[int, int]:
    """The pixel grid the boxes are measured in.

    The transcript's size is the decoded, EXIF-upright image; the stored scan's
    recorded size can be its pre-rotation twin (width and height swapped), which
    would put every box in the wrong place. The stored size is only a fallback.
    """
    transcript = document.transcript
    if transcript.width > 0 and transcript.height > 0:
        return transcript.width, transcript.height
    return max(document.image_width, 0), max(document.image_height, 0)


def pixel_rect(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The smallest whole-pixel rectangle holding the box, clipped to the page.

    PAGE points are non-negative integers and must lie inside the page; rounding
    outwards keeps every ink pixel of the word inside its rectangle.
    """
    x1 = min(max(math.floor(box.x1), 0), width)
    y1 = min(max(math.floor(box.y1), 0), height)
    x2 = min(max(math.ceil(box.x2), x1), width)
    y2 = min(max(math.ceil(box.y2), y1), height)
    return x1, y1, x2, y2


def text_extent(lines: Sequence[TranscriptLine], width: int, height: int) -> tuple[int, int, int, int]:
    """The rectangle a card's text occupies (a PAGE region, an ALTO block); the whole card when it has none."""
    boxes = [line.box for line in lines if line.box is not None]
    if not boxes:
        return 0, 0, width, height
    extent = boxes[0]
    for box in boxes[1:]:
        extent = extent.union(box)
    return pixel_rect(extent, width, height)


def model_summary(model: ModelIdentity) -> str:
    """``recognizer: name (revision abc, onnx)`` — one model, readable in a Creator line."""
    details = ", ".join(
        part for part in (f"revision {model.revision}" if model.revision else "", model.backend) if part
    )
    return f"{model.role}: {model.name}" + (f" ({details})" if details else "")
