"""Canonical form of recognised dialect text.

Dialectologists mark stress and vowel quality with combining diacritics. Two
visually identical strings must compare equal (search, corrections, exports),
so text is kept in NFC; the marks the fine-tuned tokenizer knows have no
precomposed Cyrillic form and therefore survive NFC as separate code points.
"""

from __future__ import annotations

import unicodedata

COMBINING_ACUTE = "\u0301"
COMBINING_CIRCUMFLEX = "\u0302"
COMBINING_MACRON = "\u0304"
COMBINING_BREVE = "\u0306"
COMBINING_INVERTED_BREVE = "\u0311"
UNDERTIE = "\u203f"

DIALECT_MARKS = frozenset(
    {
        COMBINING_ACUTE,
        COMBINING_CIRCUMFLEX,
        COMBINING_MACRON,
        COMBINING_BREVE,
        COMBINING_INVERTED_BREVE,
        UNDERTIE,
    }
)


def normalize_text(text: str) -> str:
    """NFC, with control and format characters dropped and whitespace collapsed to single spaces.

    A decoder can emit stray control or zero-width characters that are
    invisible to a reader but break equality and exports.
    """
    cleaned = "".join(
        " " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch) not in {"Cc", "Cf"}
    )
    nfc = unicodedata.normalize("NFC", cleaned)
    return " ".join(nfc.split())
