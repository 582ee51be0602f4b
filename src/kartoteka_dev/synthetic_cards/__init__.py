"""Synthetic dialect-dictionary word cards with exact word-level ground truth (being split into modules)."""

from kartoteka_dev.synthetic_cards.render import (
    ACUTE,
    DEFAULT_FONT_CANDIDATES,
    LINE_OVERLAP,
    RARE_MARKS,
    UNDERTIE,
    CardWord,
    RenderOptions,
    SyntheticCard,
    render_card,
    usable_fonts,
    write_cards,
)

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
