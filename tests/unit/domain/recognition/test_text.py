"""Text normalisation: NFC, dialect marks kept, invisible characters and extra spaces removed."""

from __future__ import annotations

import unicodedata

import pytest

from kartoteka.domain.recognition.text import DIALECT_MARKS, normalize_text


@pytest.mark.parametrize("mark", sorted(DIALECT_MARKS))
def test_every_dialect_mark_survives_normalisation(mark: str) -> None:
    word = "о" + mark + "кно" if mark != "\u203f" else "на" + mark + "гору"
    assert mark in normalize_text(word)


def test_text_is_nfc_and_precomposes_what_unicode_precomposes() -> None:
    assert normalize_text("и\u0306ти") == "йти"  # й has a precomposed form
    assert normalize_text("е\u0308ж") == "ёж"
    assert normalize_text("Ба\u0301тюшка") == "Ба\u0301тюшка"  # no precomposed а́: stays two code points
    assert unicodedata.is_normalized("NFC", normalize_text("Ба\u0301тюшка"))


def test_invisible_characters_and_extra_spaces_are_removed() -> None:
    assert normalize_text(" на\u200b‿гору\x00\t ") == "на‿гору"
    assert normalize_text("a \n b") == "a b"
    assert normalize_text("ру\ufffd\ufffdка") == "рука"  # a byte-level decoder cut a character in half
