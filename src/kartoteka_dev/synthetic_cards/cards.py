"""What a synthetic card is: the data classes and constants callers and tests rely on.

These are the contract of the package (every box a :class:`CardWord` carries,
the marks its text may hold, the overlap its lines promise), kept apart from
the drawing code so that a reader of the ground truth need not open the renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from PIL import Image

Box = tuple[int, int, int, int]

ACUTE = "\u0301"
UNDERTIE = "\u203f"
#: Rarer diacritics of dialect transcription: breve, inverted breve, circumflex, macron.
RARE_MARKS = ("\u0306", "\u0311", "\u0302", "\u0304")

#: Marks a struck-out word of a card's text: drawn with a line through it and absent from the
#: ground truth, as a transcriber leaves out what the collector crossed out.
STRUCK = "\x00"

#: Share of each box's height that words of one line overlap by; the line
#: grouper's default threshold.
LINE_OVERLAP = 0.6


@dataclass(frozen=True, slots=True)
class CardWord:
    """One word of a synthetic card and where its ink is.

    ``box`` is ``(x1, y1, x2, y2)`` in final card pixels (after rotation),
    with ``x2``/``y2`` exclusive like a PIL crop box: the word's ink padded by
    2-3 px, or for a rotated card the axis-aligned box around the rotated
    padded box. ``line`` is the index of the word's line in reading order.
    """

    text: str
    box: Box
    line: int


@dataclass(frozen=True, slots=True)
class SyntheticCard:
    """A rendered card together with everything a test needs to score against it."""

    image: Image.Image  # RGB
    words: tuple[CardWord, ...]  # reading order
    lines: tuple[tuple[CardWord, ...], ...]  # top to bottom, left to right within a line
    text: str  # words joined by " " within a line, lines by "\n"; NFC
    font: str  # path of the font file the card was written in
    struck: tuple[Box, ...] = ()  # crossed-out words: ink on the card that is no word of it


class RenderOptions(TypedDict, total=False):
    """Keyword options of :func:`render_card` that :func:`write_cards` passes through."""

    n_words: int | None
    size: tuple[int, int]
    font_paths: Sequence[Path] | None
    rotation_deg: float | None
    noise: bool
    blur: bool
