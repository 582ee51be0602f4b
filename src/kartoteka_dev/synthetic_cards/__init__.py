"""Synthetic dialect-dictionary word cards with exact word-level ground truth.

There are no real card scans we may ship, yet detection, line grouping, OCR
and the benchmarks all need card images whose words, boxes and reading order
are known exactly. This package draws cards that look like the archive's: a
stressed headword with a grammatical note, definition lines, a place line and
a year, written in a handwriting-like font on off-white paper, slightly
rotated, blurred and noisy.

Words are composed glyph by glyph on their own layer, so every word's box is
the bounding box of its actual ink rather than a font-metrics guess, and the
same rotation that turns the page turns the boxes. The layout keeps the
properties the greedy line grouper of :mod:`kartoteka.domain.recognition.layout`
relies on: lines never overlap vertically, and words of one line overlap each
other by at least :data:`LINE_OVERLAP` of each box's height (every pair on an
unrotated card, reading-order neighbours on a rotated one, where the slope of
the line makes the far ends of a line drift apart).

None of the installed handwriting fonts can be trusted with combining marks
(Klee One has the acute, breve, circumflex, macron and diaeresis but places
them for its full-width cells, setofont's marks are empty, SteveHand and
kiloji have none, and HarfBuzz adds a dotted circle under a lone mark), so
marks are placed by :mod:`~kartoteka_dev.synthetic_cards.glyphs`: the font's own
mark glyph when it has real ink, otherwise a pen stroke drawn there, centred over
the vowel's ink.

The package is split by stage; the public API is re-exported here:

- :mod:`~kartoteka_dev.synthetic_cards.cards`: the public data classes and constants
- :mod:`~kartoteka_dev.synthetic_cards.vocabulary`: the word lists
- :mod:`~kartoteka_dev.synthetic_cards.glyphs`: fonts and composing one word's ink
- :mod:`~kartoteka_dev.synthetic_cards.content`: the text of a card
- :mod:`~kartoteka_dev.synthetic_cards.layout`: lines and boxes
- :mod:`~kartoteka_dev.synthetic_cards.render`: paper, ink, :func:`render_card` and :func:`write_cards`
"""

from kartoteka_dev.synthetic_cards.cards import (
    ACUTE,
    LINE_OVERLAP,
    RARE_MARKS,
    UNDERTIE,
    CardWord,
    RenderOptions,
    SyntheticCard,
)
from kartoteka_dev.synthetic_cards.glyphs import DEFAULT_FONT_CANDIDATES, usable_fonts
from kartoteka_dev.synthetic_cards.render import render_card, write_cards

__all__ = [
    "ACUTE",
    "DEFAULT_FONT_CANDIDATES",
    "LINE_OVERLAP",
    "RARE_MARKS",
    "UNDERTIE",
    "CardWord",
    "RenderOptions",
    "SyntheticCard",
    "render_card",
    "usable_fonts",
    "write_cards",
]
