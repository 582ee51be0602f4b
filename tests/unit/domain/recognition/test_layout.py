"""Line grouping, containment filtering and merging, on box layouts written from reference §5."""

from __future__ import annotations

import pytest

from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.layout import (
    Detection,
    LayoutRules,
    arrange_words,
    drop_contained,
    group_into_lines,
    merge_overlapping,
    vertical_overlap,
)


def det(x1: float, y1: float, x2: float, y2: float, conf: float = 0.9) -> Detection:
    return Detection(Box(x1, y1, x2, y2), conf)


def boxes(lines: list[list[Detection]]) -> list[list[tuple[float, float, float, float]]]:
    return [[d.box.as_tuple() for d in line] for line in lines]


# --- containment filter ----------------------------------------------------------------


def test_box_mostly_inside_another_is_dropped() -> None:
    outer, inner = det(0, 0, 100, 40), det(10, 5, 50, 35)
    assert drop_contained([outer, inner]) == [outer]
    assert drop_contained([inner, outer]) == [outer]


def test_box_exactly_at_threshold_is_kept() -> None:
    # 90 of 100 units of the small box lie inside: "more than 90 %" is required to drop it.
    outer, partial = det(0, 0, 90, 10), det(0, 0, 100, 1)
    inter = partial.box.intersection_area(outer.box) / partial.box.area
    assert inter == pytest.approx(0.9)
    assert partial in drop_contained([outer, partial])


def test_partly_overlapping_boxes_both_survive() -> None:
    a, b = det(0, 0, 100, 40), det(60, 0, 160, 40)
    assert drop_contained([a, b]) == [a, b]


def test_identical_duplicates_keep_one_not_zero() -> None:
    # The reference dropped both of two mutually contained boxes and lost the word.
    a, b = det(0, 0, 100, 40, 0.5), det(0, 0, 100, 40, 0.8)
    assert drop_contained([a, b]) == [b]
    c, d = det(0, 0, 100, 40, 0.7), det(0, 0, 100, 40, 0.7)
    assert drop_contained([c, d]) == [c]


def test_nearly_identical_keeps_the_larger() -> None:
    a, b = det(0, 0, 100, 40), det(1, 1, 100, 40)
    assert drop_contained([b, a]) == [a]


def test_zero_area_boxes_do_not_divide_by_zero() -> None:
    flat, good = det(10, 10, 50, 10), det(0, 0, 100, 40)
    assert drop_contained([flat, good]) == [good]


def test_threshold_is_configurable() -> None:
    outer, inner = det(0, 0, 100, 40), det(50, 0, 110, 40)  # 50/60 = 83 % inside
    assert drop_contained([outer, inner], threshold=0.9) == [outer, inner]
    assert drop_contained([outer, inner], threshold=0.8) == [outer]


# --- line grouping ----------------------------------------------------------------------


def test_vertical_overlap_is_relative_to_the_new_box() -> None:
    tall, short = Box(0, 0, 10, 100), Box(20, 40, 30, 60)
    assert vertical_overlap(short, tall) == 1.0
    assert vertical_overlap(tall, short) == pytest.approx(0.2)


def test_two_lines_in_shuffled_detection_order() -> None:
    l1 = [det(200, 10, 300, 50), det(10, 12, 100, 48), det(110, 8, 190, 52)]
    l2 = [det(50, 100, 150, 140), det(10, 102, 45, 138)]
    order = [l2[0], l1[0], l1[1], l2[1], l1[2]]
    lines = group_into_lines(order)
    assert boxes(lines) == [
        [(10, 12, 100, 48), (110, 8, 190, 52), (200, 10, 300, 50)],
        [(10, 102, 45, 138), (50, 100, 150, 140)],
    ]


def test_overlap_of_exactly_threshold_joins_the_line() -> None:
    a = det(0, 0, 50, 10)
    b = det(60, 4, 110, 14)  # 6 of b's 10 px overlap a: 0.6
    assert len(group_into_lines([a, b])) == 1
    c = det(60, 5, 110, 15)  # 0.5
    assert len(group_into_lines([a, c])) == 2


def test_first_fit_follows_detection_order() -> None:
    # b fits both line A (via a1) and line C; it joins the first line created.
    a1, c1 = det(0, 0, 50, 20), det(0, 100, 50, 120)
    b = det(60, 5, 100, 25)
    lines = group_into_lines([a1, c1, b])
    assert boxes(lines)[0] == [(0, 0, 50, 20), (60, 5, 100, 25)]


def test_joining_uses_any_member_not_only_the_first() -> None:
    # The line drifts downwards; the third word only overlaps the second.
    w1, w2, w3 = det(0, 0, 40, 20), det(50, 8, 90, 28), det(100, 16, 140, 36)
    assert len(group_into_lines([w1, w2, w3])) == 1


def test_lines_sorted_by_top_of_leftmost_word() -> None:
    # Line A's right word rises to y=44 but its leftmost word starts at y=50; the tall
    # word B (y=46) shares no line with A. The reference orders by the leftmost word's top.
    a_left, a_right = det(0, 50, 40, 70), det(50, 44, 90, 64)
    b = det(200, 46, 240, 120)
    lines = group_into_lines([a_left, a_right, b])
    assert boxes(lines) == [[(200, 46, 240, 120)], [(0, 50, 40, 70), (50, 44, 90, 64)]]


def test_empty_input_gives_no_lines() -> None:
    assert group_into_lines([]) == []
    assert arrange_words([], 100, 100) == []


# --- merging -------------------------------------------------------------------------


def test_overlapping_neighbours_merge_into_their_union() -> None:
    line = [det(0, 0, 50, 20, 0.4), det(45, 2, 90, 22, 0.8), det(100, 0, 140, 20)]
    merged = merge_overlapping(line)
    assert [d.box.as_tuple() for d in merged] == [(0, 0, 90, 22), (100, 0, 140, 20)]
    assert merged[0].confidence == 0.8


def test_touching_boxes_do_not_merge() -> None:
    line = [det(0, 0, 50, 20), det(50, 0, 90, 20)]
    assert len(merge_overlapping(line)) == 2


def test_chain_of_overlaps_merges_into_one() -> None:
    line = [det(0, 0, 30, 20), det(25, 0, 60, 20), det(55, 0, 90, 20), det(85, 0, 120, 20)]
    assert [d.box.as_tuple() for d in merge_overlapping(line)] == [(0, 0, 120, 20)]


def test_union_that_reaches_a_later_word_merges_it_too() -> None:
    # The second box is long and covers the third, which does not touch the first.
    line = [det(0, 0, 30, 20), det(20, 0, 200, 20), det(100, 0, 150, 20)]
    assert [d.box.as_tuple() for d in merge_overlapping(line)] == [(0, 0, 200, 20)]


def test_merging_can_be_switched_off() -> None:
    words = [det(0, 0, 50, 20), det(45, 0, 90, 20)]
    assert len(arrange_words(words, 200, 100, LayoutRules(merge_overlapping=False))[0]) == 2
    assert len(arrange_words(words, 200, 100)[0]) == 1


# --- whole arrangement, degenerate input ----------------------------------------------------


def test_boxes_outside_the_image_or_without_area_are_ignored() -> None:
    words = [
        det(10, 10, 60, 30),
        det(-50, -50, -10, -10),  # entirely off the image
        det(300, 10, 400, 30),  # right of a 200-px-wide image
        det(70, 10, 70, 30),  # zero width
        det(80, 20, 120, 20),  # zero height
        det(150, 10, 260, 30),  # partly off: clipped to 200
    ]
    lines = arrange_words(words, 200, 100)
    assert boxes(lines) == [[(10, 10, 60, 30), (150, 10, 200, 30)]]


def test_contained_fragment_does_not_become_a_word() -> None:
    words = [det(0, 0, 100, 30), det(20, 5, 60, 25), det(120, 0, 200, 30)]
    assert boxes(arrange_words(words, 300, 100)) == [[(0, 0, 100, 30), (120, 0, 200, 30)]]


def test_rules_reject_nonsense_thresholds() -> None:
    with pytest.raises(ValueError, match="line_overlap"):
        LayoutRules(line_overlap_threshold=0)
    with pytest.raises(ValueError, match="containment"):
        LayoutRules(containment_threshold=1.5)
