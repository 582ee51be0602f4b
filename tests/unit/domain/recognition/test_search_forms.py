"""Search forms, word spans and the typo rule shared by the index, the query and the highlighter."""

from __future__ import annotations

import unicodedata

import pytest

from kartoteka.domain.recognition.search_forms import (
    edit_distance,
    is_near_miss,
    search_form,
    search_words,
    typo_budget,
    word_spans,
)

ACUTE = "\u0301"


@pytest.mark.parametrize(
    ("written", "form"),
    [
        (f"Ба{ACUTE}тюшка", "батюшка"),
        ("ЁЛКА ёлка", "елка елка"),
        ("Йод и йогурт", "йод и йогурт"),  # й is a letter, not и with a mark
        ("на\u203fгоре", "на горе"),  # the undertie joins words in speech, not in search
        ("о\u0306 е\u0306 а\u0311 у\u0304 ы\u0302", "о е а у ы"),  # marks NFC composes (ӗ) or keeps apart
        (unicodedata.normalize("NFD", "Пришёл"), "пришел"),
    ],
)
def test_search_form_drops_case_marks_and_yo(written: str, form: str) -> None:
    assert search_form(written) == form


def test_word_spans_cover_the_written_word_marks_included() -> None:
    text = f"«Ба{ACUTE}тюшка», что-то 1974 г."
    spans = word_spans(text)
    assert [s.form for s in spans] == ["батюшка", "что", "то", "1974", "г"]
    first = spans[0]
    assert text[first.start : first.end] == f"Ба{ACUTE}тюшка"
    assert search_words("  ") == []


def test_edit_distance_counts_a_swap_as_one_slip() -> None:
    assert edit_distance("батюшка", "батюжка", 2) == 1
    assert edit_distance("батюшка", "батющка", 2) == 1
    assert edit_distance("батюшка", "баютшка", 2) == 1  # transposition
    assert edit_distance("батюшка", "бтюшк", 2) == 2
    assert edit_distance("батюшка", "изба", 2) == 3  # beyond the limit: limit + 1


def test_short_words_must_be_typed_right() -> None:
    assert typo_budget("дом") == 0
    assert typo_budget("изба") == 1
    assert typo_budget("поветерье") == 2
    assert not is_near_miss("дом", "дым")
    assert is_near_miss("изба", "изпа")
    assert not is_near_miss("изба", "изба")  # the word itself is not a typo of itself
