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
REPLACEMENT_CHARACTER = "\ufffd"

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
    """NFC, with control, format and replacement characters dropped and whitespace collapsed.

    A decoder can emit stray control or zero-width characters that are
    invisible to a reader but break equality and exports, and a byte-level
    tokenizer can stop in the middle of a UTF-8 sequence, which decodes to
    U+FFFD: none of them is text a linguist wrote.
    """
    cleaned = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or _is_text(ch))
    nfc = unicodedata.normalize("NFC", cleaned)
    return " ".join(nfc.split())


def _is_text(ch: str) -> bool:
    return ch != REPLACEMENT_CHARACTER and unicodedata.category(ch) not in {"Cc", "Cf"}
