"""Quality figures against cases worked out by hand."""

from __future__ import annotations

import pytest

from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.quality import (
    DetectionCounts,
    QualitySummary,
    ReferenceCard,
    ReferenceWord,
    StressCounts,
    align,
    edit_distance,
    fold,
    match_boxes,
    score_card,
    stress_counts,
)
from kartoteka.domain.recognition.transcript import Transcript, TranscriptLine, TranscriptWord

A = "\u0301"


def box(x: float, y: float, w: float = 40, h: float = 20) -> Box:
    return Box(x, y, x + w, y + h)


def reading(*lines: list[tuple[str, Box]]) -> Transcript:
    return Transcript(
        width=400,
        height=300,
        lines=tuple(TranscriptLine(tuple(TranscriptWord(t, b, 0.9, 0.9) for t, b in line)) for line in lines),
    )


def card(*lines: list[tuple[str, Box | None]]) -> ReferenceCard:
    return ReferenceCard("c", tuple(tuple(ReferenceWord(t, b) for t, b in line) for line in lines))


def test_edit_distance_counts_insertions_deletions_and_substitutions() -> None:
    assert edit_distance("кот", "кот") == 0
    assert edit_distance("кот", "кит") == 1  # substitution
    assert edit_distance("кот", "кобот") == 2  # two insertions
    assert edit_distance("кобот", "кот") == 2  # two deletions
    assert edit_distance("", "дом") == 3
    assert edit_distance(["а", "б"], ["б"]) == 1  # words are items too


def test_a_combining_stress_mark_is_one_character_error() -> None:
    assert edit_distance(f"мо{A}ре", "море") == 1
    assert fold(f"Мо{A}ре") == "море"


def test_align_pairs_every_item_once() -> None:
    assert align("abc", "axc") == [(0, 0), (1, 1), (2, 2)]
    assert align("abc", "ac") == [(0, 0), (1, None), (2, 1)]
    assert align("", "ab") == [(None, 0), (None, 1)]


def test_stress_right_missing_extra_and_wrong_letter() -> None:
    assert stress_counts([f"во{A}да"], [f"во{A}да"]) == StressCounts(right=1)
    assert stress_counts([f"во{A}да"], ["вода"]) == StressCounts(missing=1)
    assert stress_counts(["вода"], [f"вода{A}"]) == StressCounts(extra=1)
    assert stress_counts([f"во{A}да"], [f"вода{A}"]) == StressCounts(wrong_letter=1)
    # A word read with its letters wrong still has its stress judged on the aligned letter.
    assert stress_counts([f"во{A}да"], [f"ва{A}да"]) == StressCounts(right=1)
    # A word the reading lost loses its marks; a word it invented adds its own.
    assert stress_counts([f"во{A}да", f"ре{A}ка"], [f"во{A}да"]) == StressCounts(right=1, missing=1)
    assert stress_counts(["да"], ["да", f"не{A}т"]) == StressCounts(extra=1)


def test_stress_accuracy_counts_every_mark_either_side_wrote() -> None:
    assert StressCounts(right=3, missing=1, extra=0, wrong_letter=1).accuracy == pytest.approx(0.6)
    assert StressCounts().accuracy == 1.0


def test_boxes_match_one_to_one_at_half_overlap() -> None:
    expected = [box(0, 0), box(100, 0)]
    predicted = [box(10, 0), box(0, 2), box(300, 0)]
    # IoU 600/1000 and 720/880: the closer box takes the word, the other is left over; 300 is off.
    assert match_boxes(expected, predicted) == {0: 1}
    assert match_boxes([box(0, 0)], [box(30, 0)]) == {}  # IoU 10/70 < 0.5


def test_detection_with_no_detections_and_no_words() -> None:
    assert DetectionCounts(0, 0, 5).f1 == 0.0
    assert DetectionCounts(0, 0, 0).f1 == 1.0
    counts = DetectionCounts(matched=3, predicted=4, expected=6)
    assert (counts.precision, counts.recall) == (0.75, 0.5)
    assert counts.f1 == pytest.approx(0.6)


def test_a_perfect_reading_scores_perfectly() -> None:
    truth = card([(f"до{A}м", box(0, 0)), ("стоит", box(50, 0))], [("гора", box(0, 40))])
    score = score_card(truth, reading([(f"до{A}м", box(1, 0)), ("стоит", box(50, 1))], [("гора", box(0, 41))]))
    assert (score.char_errors, score.word_errors, score.chars, score.words) == (0, 0, 15, 3)
    assert score.stress == StressCounts(right=1)
    assert score.detection == DetectionCounts(3, 3, 3)
    assert (score.lines_right, score.lines_scored) == (3, 3)


def test_text_errors_are_counted_over_reading_order_and_folded() -> None:
    truth = card([(f"Во{A}да", box(0, 0)), ("течёт", box(50, 0))])
    score = score_card(truth, reading([("вода", box(0, 0)), ("течот", box(50, 0)), ("х", box(120, 0))]))
    # "Во́да течёт" (11 chars) vs "вода течот х": В→в, no stress, ё→о, " х" inserted.
    assert (score.char_errors, score.chars) == (5, 11)
    assert score.char_errors_folded == 3  # ё→о and the inserted " х"
    assert (score.word_errors, score.word_errors_folded, score.words) == (3, 2, 2)
    assert score.stress == StressCounts(missing=1)
    assert score.detection == DetectionCounts(2, 3, 2)


def test_empty_lines_and_an_empty_reading() -> None:
    truth = card([], [("слово", box(0, 0))], [])
    score = score_card(truth, reading())
    assert (score.char_errors, score.chars, score.word_errors) == (5, 5, 1)
    assert score.detection == DetectionCounts(0, 0, 1)
    assert score.lines_scored == 0
    # Nothing to read and nothing read is no error at all.
    blank = score_card(card(), reading())
    assert (blank.cer, blank.detection.f1) == (0.0, 1.0)


def test_line_accuracy_scores_the_line_and_the_order() -> None:
    truth = card([("а", box(0, 0)), ("б", box(50, 0)), ("в", box(100, 0))], [("г", box(0, 40))])
    # Words swapped within the first line, and "г" pulled up into it.
    swapped = reading([("б", box(50, 0)), ("а", box(0, 0)), ("в", box(100, 0)), ("г", box(0, 40))])
    score = score_card(truth, swapped)
    # Line 0 pairs with the one predicted line (3 shared words) and б, а, в keeps 2 in order;
    # line 1 has no partner left, so "г" is wrong.
    assert (score.lines_right, score.lines_scored) == (2, 4)
    split = reading([("а", box(0, 0)), ("б", box(50, 0))], [("в", box(100, 0))], [("г", box(0, 40))])
    # A line split in two: "в" sits on a line that pairs with nothing.
    assert score_card(truth, split).lines_right == 3


def test_ground_truth_without_boxes_scores_text_only() -> None:
    truth = card([("слово", None)])
    score = score_card(truth, reading([("слово", box(0, 0))]))
    assert score.detection == DetectionCounts()
    assert (score.char_errors, score.lines_scored) == (0, 0)


def test_summary_totals_counts_rather_than_averaging_ratios() -> None:
    short = score_card(card([("да", box(0, 0))]), reading([("до", box(0, 0))]))  # 1 of 2 chars
    long = score_card(card([("хорошо", box(0, 0))]), reading([("хорошо", box(0, 0))]))  # 0 of 6
    summary = QualitySummary.of([short, long])
    assert summary.cer == pytest.approx(1 / 8)
    assert summary.wer == pytest.approx(1 / 2)
    assert summary.detection.f1 == 1.0
    assert summary.cards == 2
