"""Corrections: every edit kind, and what happens to the boxes."""

from __future__ import annotations

import itertools
import unicodedata

import pytest

from kartoteka.domain.recognition.corrections import (
    CorrectionError,
    DeleteWord,
    EditLine,
    EditWord,
    JoinWords,
    ReplaceText,
    SetBox,
    SplitWord,
    apply_edits,
)
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.transcript import Transcript, TranscriptLine, TranscriptWord

ACUTE = "\u0301"


def word(text: str, x1: float, x2: float, y1: float = 10, y2: float = 30, det: float = 0.9) -> TranscriptWord:
    return TranscriptWord(text, Box(x1, y1, x2, y2), det, 0.6)


def card() -> Transcript:
    """Two lines: 'Ба́тюшка пришёл' and 'на горе'."""
    return Transcript(
        width=400,
        height=200,
        lines=(
            TranscriptLine((word(f"Ба{ACUTE}тюшка", 10, 110), word("пришёл", 120, 200))),
            TranscriptLine((word("на", 10, 40, 50, 70), word("горе", 50, 120, 50, 70))),
        ),
    )


def texts(transcript: Transcript) -> list[list[str]]:
    return [[w.text for w in line.words] for line in transcript.lines]


def test_edit_word_keeps_the_box_normalises_to_nfc_and_is_certain() -> None:
    decomposed = unicodedata.normalize("NFD", "пришёл")  # е + U+0308, as some keyboards send it
    edited = EditWord(0, 1, f"  {decomposed}\u200b ").apply(card())
    changed = edited.lines[0].words[1]
    assert changed.text == "пришёл"
    assert unicodedata.is_normalized("NFC", changed.text)
    assert changed.box == card().lines[0].words[1].box
    assert changed.recognition_confidence == 1.0
    assert edited.lines[0].words[0] == card().lines[0].words[0]  # untouched


def test_edit_word_into_two_words_splits_its_box_by_length() -> None:
    edited = EditWord(1, 1, "на горе").apply(card())
    assert texts(edited)[1] == ["на", "на", "горе"]
    a, b = edited.lines[1].words[1:]
    assert (a.box.x1, b.box.x2) == (50, 120)
    assert a.box.x2 == pytest.approx(50 + 70 * 2 / 6)


def test_edit_line_keeps_boxes_of_words_that_stayed() -> None:
    original = card()
    edited = EditLine(0, f"Ба{ACUTE}тюшка пришё{ACUTE}л").apply(original)
    assert texts(edited)[0] == [f"Ба{ACUTE}тюшка", f"пришё{ACUTE}л"]
    assert [w.box for w in edited.lines[0].words] == [w.box for w in original.lines[0].words]
    fewer = EditLine(0, "батюшка").apply(original)  # same word without the mark: its box stays, the other goes
    assert [w.box for w in fewer.lines[0].words] == [original.lines[0].words[0].box]


def test_edit_line_with_inserted_words_shares_the_line_box() -> None:
    edited = EditLine(1, "на высокой горе").apply(card())
    words = edited.lines[1].words
    assert [w.text for w in words] == ["на", "высокой", "горе"]
    assert (words[0].box.x1, words[-1].box.x2) == (10, 120)
    assert all(a.box.x2 == pytest.approx(b.box.x1) for a, b in itertools.pairwise(words))


def test_split_word_at_given_positions_or_by_length() -> None:
    at = SplitWord(1, 1, ("го", "ре"), at=(80.0,)).apply(card())
    assert [(w.text, w.box.x1, w.box.x2) for w in at.lines[1].words[1:]] == [("го", 50, 80), ("ре", 80, 120)]
    by_length = SplitWord(0, 0, ("Ба" + ACUTE, "тюшка")).apply(card())
    left, right = by_length.lines[0].words[:2]
    assert left.box.x2 == pytest.approx(10 + 100 * 2 / 7)  # the mark is not a letter
    assert right.box.x2 == 110


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (SplitWord(1, 1, ("горе",)), "at least two"),
        (SplitWord(1, 1, ("го", "ре"), at=(130.0,)), "inside the word"),
        (SplitWord(1, 1, ("го", "ре"), at=(60.0, 70.0)), "cut positions"),
        (SplitWord(1, 1, ("го ре", "x")), "single word"),
    ],
)
def test_bad_splits_are_refused(edit: SplitWord, message: str) -> None:
    with pytest.raises(CorrectionError, match=message):
        edit.apply(card())


def test_join_words_takes_the_union_and_runs_the_text_together() -> None:
    joined = JoinWords(1, 0).apply(card())
    only = joined.lines[1].words
    assert len(only) == 1
    assert only[0].text == "нагоре"
    assert only[0].box == Box(10, 50, 120, 70)
    assert JoinWords(1, 0, text="на‿горе").apply(card()).lines[1].words[0].text == "на‿горе"
    with pytest.raises(CorrectionError, match="no word 2"):
        JoinWords(1, 1).apply(card())


def test_set_box_must_lie_on_the_card() -> None:
    moved = SetBox(0, 1, Box(125, 12, 205, 31)).apply(card())
    assert moved.lines[0].words[1].box == Box(125, 12, 205, 31)
    assert moved.lines[0].words[1].detection_confidence == 1.0
    with pytest.raises(CorrectionError, match="off the 400×200 card"):
        SetBox(0, 1, Box(300, 150, 450, 190)).apply(card())
    with pytest.raises(CorrectionError, match="no area"):
        SetBox(0, 1, Box(5, 5, 5, 9)).apply(card())


def test_deleting_the_last_word_of_a_line_removes_the_line() -> None:
    once = DeleteWord(1, 0).apply(card())
    assert texts(once)[1] == ["горе"]
    twice = DeleteWord(1, 0).apply(once)
    assert len(twice.lines) == 1


def test_replace_text_keeps_line_boxes_and_lays_out_new_lines_below() -> None:
    original = card()
    replaced = ReplaceText(f"Ба{ACUTE}тюшка пришёл\nна горе\nв Пинеге").apply(original)
    assert [line.text for line in replaced.lines] == [f"Ба{ACUTE}тюшка пришёл", "на горе", "в Пинеге"]
    assert replaced.lines[0] == original.lines[0]  # nothing changed there: the very same words
    new = replaced.lines[2].box
    assert new is not None
    assert new.y1 >= 70
    assert new.y2 <= 200
    assert ReplaceText("одно слово").apply(original).lines[0].words[0].box.x1 == 10
    assert ReplaceText("").apply(original).lines == ()


def test_missing_lines_and_words_are_clear_errors() -> None:
    with pytest.raises(CorrectionError, match="no line 5"):
        EditWord(5, 0, "x").apply(card())
    with pytest.raises(CorrectionError, match="no word 7 in line 0"):
        EditWord(0, 7, "x").apply(card())
    with pytest.raises(CorrectionError, match="empty"):
        EditWord(0, 0, " \u200b ").apply(card())
    with pytest.raises(CorrectionError, match="no edits"):
        apply_edits(card(), [])


def test_edits_apply_in_order() -> None:
    result = apply_edits(card(), [JoinWords(1, 0), EditWord(1, 0, "нагорье")])
    assert texts(result)[1] == ["нагорье"]
