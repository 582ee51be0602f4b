"""Turning a detector's loose word boxes into lines in reading order.

The rules are the ones the published models were tuned with, so their
thresholds and order are kept exactly. Zero-area and off-image boxes are
discarded before any ratio is taken, and of two boxes that contain each other
one always survives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from kartoteka.domain.recognition.geometry import Box


@dataclass(frozen=True, slots=True)
class Detection:
    """A word box found by the detector, with the detector's confidence."""

    box: Box
    confidence: float


@dataclass(frozen=True, slots=True)
class LayoutRules:
    """Thresholds of the grouping rules; the defaults are those the published models were tuned with."""

    containment_threshold: float = 0.9
    line_overlap_threshold: float = 0.6
    merge_overlapping: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.containment_threshold <= 1.0:
            raise ValueError("containment_threshold must be in (0, 1]")
        if not 0.0 < self.line_overlap_threshold <= 1.0:
            raise ValueError("line_overlap_threshold must be in (0, 1]")


Line = list[Detection]


def arrange_words(
    detections: Sequence[Detection],
    image_width: float,
    image_height: float,
    rules: LayoutRules = LayoutRules(),
) -> list[Line]:
    """Clip, filter, group and merge detections into lines, top to bottom, left to right."""
    visible = clip_to_image(detections, image_width, image_height)
    kept = drop_contained(visible, rules.containment_threshold)
    lines = group_into_lines(kept, rules.line_overlap_threshold)
    if rules.merge_overlapping:
        lines = [merge_overlapping(line) for line in lines]
    return lines


def clip_to_image(detections: Sequence[Detection], image_width: float, image_height: float) -> list[Detection]:
    """Keep the on-image part of every box; boxes with no area left carry no word."""
    result: list[Detection] = []
    for det in detections:
        clipped = det.box.clip(image_width, image_height)
        if clipped is not None and not clipped.is_degenerate:
            result.append(replace(det, box=clipped))
    return result


def drop_contained(detections: Sequence[Detection], threshold: float = 0.9) -> list[Detection]:
    """Drop a box when more than ``threshold`` of its area lies inside another box.

    When two boxes each lie inside the other beyond the threshold (duplicates
    that slipped through NMS) the larger one, then the more confident one, then
    the earlier one survives: a duplicated word keeps one box instead of losing
    both.
    """
    boxes = [d for d in detections if not d.box.is_degenerate]

    def beats(a: int, b: int) -> bool:
        da, db = boxes[a], boxes[b]
        return (da.box.area, da.confidence, -a) > (db.box.area, db.confidence, -b)

    kept: list[Detection] = []
    for i, det in enumerate(boxes):
        contained = False
        for j, other in enumerate(boxes):
            if i == j:
                continue
            inter = det.box.intersection_area(other.box)
            if inter / det.box.area <= threshold:
                continue
            mutual = inter / other.box.area > threshold
            if mutual and beats(i, j):
                continue
            contained = True
            break
        if not contained:
            kept.append(det)
    return kept


def vertical_overlap(box: Box, member: Box) -> float:
    """Share of ``box``'s height covered by ``member``'s vertical extent."""
    top = max(box.y1, member.y1)
    bottom = min(box.y2, member.y2)
    if bottom <= top or box.height <= 0:
        return 0.0
    return (bottom - top) / box.height


def group_into_lines(detections: Sequence[Detection], threshold: float = 0.6) -> list[Line]:
    """Greedy first-fit line grouping in detection order.

    A box joins the first line holding any member that covers at least
    ``threshold`` of the box's height; otherwise it starts a new line. Words
    are then sorted left to right and lines by the top of their leftmost word.
    """
    lines: list[Line] = []
    for det in detections:
        if det.box.is_degenerate:
            continue
        for line in lines:
            if any(vertical_overlap(det.box, m.box) >= threshold for m in line):
                line.append(det)
                break
        else:
            lines.append([det])
    for line in lines:
        line.sort(key=lambda d: d.box.x1)
    lines.sort(key=lambda line: line[0].box.y1)
    return lines


def merge_overlapping(line: Sequence[Detection]) -> Line:
    """Merge horizontally overlapping neighbours of a sorted line into one word.

    Overlap is measured against the right neighbour's width; any positive
    overlap merges (the rule the published models were tuned with). After a merge the union is compared
    with its left neighbour again, since it may now reach it.
    """
    words = list(line)
    i = 0
    while i < len(words) - 1:
        cur, nxt = words[i], words[i + 1]
        overlap = min(cur.box.x2, nxt.box.x2) - max(cur.box.x1, nxt.box.x1)
        if nxt.box.width > 0 and overlap / nxt.box.width > 0:
            words[i] = Detection(
                box=cur.box.union(nxt.box),
                confidence=max(cur.confidence, nxt.confidence),
            )
            del words[i + 1]
            i = max(i - 1, 0)
        else:
            i += 1
    return words
