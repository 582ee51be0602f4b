"""Where the words go: lines, margins and the rotated boxes that become the ground truth.

The layout keeps the properties the greedy line grouper of
:mod:`kartoteka.domain.recognition.layout` relies on: lines never overlap
vertically, and words of one line overlap each other by at least
:data:`~kartoteka_dev.synthetic_cards.cards.LINE_OVERLAP` of each box's height (every pair
before rotation, reading-order neighbours after it).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kartoteka_dev.synthetic_cards.cards import LINE_OVERLAP, Box
from kartoteka_dev.synthetic_cards.content import _Content
from kartoteka_dev.synthetic_cards.glyphs import _font, _render_word, _Word


@dataclass(frozen=True, slots=True, eq=False)
class _Placed:
    word: _Word
    x: int  # pen origin
    baseline: int  # the word's own baseline, jitter included
    line_baseline: int
    pre_box: Box  # padded ink box before rotation
    box: Box  # final box


class _Geometry:
    """Page geometry of one layout attempt: margins, pitch, rotation of boxes."""

    def __init__(self, width: int, height: int, angle: float, pad: int, rng: random.Random) -> None:
        self.width, self.height, self.pad = width, height, pad
        scale = min(width / 1280, height / 900)
        self.left = round(rng.uniform(60, 100) * scale)
        self.right = width - round(rng.uniform(50, 80) * scale)
        self.top = round(rng.uniform(45, 75) * scale)
        self.bottom = height - round(rng.uniform(40, 60) * scale)
        self.angle = angle
        self.cos = math.cos(math.radians(angle))
        self.sin = math.sin(math.radians(angle))

    def final_box(self, box: Box) -> Box:
        """Where a pre-rotation box ends up: the bounding box of its rotated corners.

        ``Image.rotate`` turns the page counter-clockwise about its centre, so a
        point at ``(dx, dy)`` from the centre moves to
        ``(dx cos + dy sin, -dx sin + dy cos)``.
        """
        if self.angle == 0:
            return box
        cx, cy = self.width / 2, self.height / 2
        xs: list[float] = []
        ys: list[float] = []
        for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
            dx, dy = x - cx, y - cy
            xs.append(cx + dx * self.cos + dy * self.sin)
            ys.append(cy - dx * self.sin + dy * self.cos)
        return (
            max(0, math.floor(min(xs))),
            max(0, math.floor(min(ys))),
            min(self.width, math.ceil(max(xs))),
            min(self.height, math.ceil(max(ys))),
        )

    def place(self, word: _Word, ink_left: int, line_baseline: int, jitter: int = 0) -> _Placed:
        x = ink_left - word.ink[0]
        baseline = line_baseline + jitter
        p = self.pad
        pre = (
            x + word.ink[0] - p,
            baseline + word.ink[1] - p,
            x + word.ink[2] + p,
            baseline + word.ink[3] + p,
        )
        return _Placed(word, x, baseline, line_baseline, pre, self.final_box(pre))


def _v_overlap_ok(a: Box, b: Box) -> bool:
    """Both boxes overlap vertically by at least LINE_OVERLAP of their own height."""
    inter = min(a[3], b[3]) - max(a[1], b[1])
    return inter >= LINE_OVERLAP * max(a[3] - a[1], b[3] - b[1]) + 1e-9


def _fits_line(line: Sequence[_Placed], cand: _Placed) -> bool:
    """Whether ``cand`` may join ``line`` without confusing a greedy line grouper.

    Before rotation every pair must overlap enough; after rotation only the
    reading-order neighbour, since a tilted line's far ends drift apart.
    """
    if any(not _v_overlap_ok(p.pre_box, cand.pre_box) for p in line):
        return False
    return not line or _v_overlap_ok(line[-1].box, cand.box)


class _LayoutFailed(Exception):
    """The words do not fit the card at this font size."""


def _try_append(
    line: Sequence[_Placed],
    word: _Word,
    start: int,
    line_baseline: int,
    geo: _Geometry,
    space: float,
    rng: random.Random,
) -> _Placed | None:
    """Place ``word`` after the line's last word (or at ``start``); None if it may not go there.

    The gap between words is 1.3-2 spaces and never lets padded boxes touch;
    a word that breaks the overlap rule with its baseline jitter is tried on
    the line's own baseline before it is refused.
    """
    if line:
        gap = max(round(space * rng.uniform(1.3, 2.0)), 2 * geo.pad + 3)
        ink_left = line[-1].pre_box[2] - geo.pad + gap
    else:
        ink_left = start
    if ink_left + word.width > geo.right:
        return None
    cand = geo.place(word, ink_left, line_baseline, rng.randint(-3, 3))
    if not _fits_line(line, cand):
        cand = geo.place(word, ink_left, line_baseline)
    return cand if _fits_line(line, cand) else None


def _fill_line(
    pending: Sequence[_Word],
    limit: int,
    start: int,
    baseline: int,
    geo: _Geometry,
    space: float,
    rng: random.Random,
) -> tuple[list[_Placed], list[_Word]]:
    """Take words from ``pending`` into one line; returns the line and the words left over, in order."""
    line: list[_Placed] = []
    left: list[_Word] = []
    for i, word in enumerate(pending):
        if len(line) >= limit or (line and line[-1].pre_box[2] + word.width > geo.right):
            left.extend(pending[i:])
            break
        placed = _try_append(line, word, start, baseline, geo, space, rng)
        if placed is None:
            if not line:
                raise _LayoutFailed  # wider than the card at this size
            left.append(word)
        else:
            line.append(placed)
    return line, left


def _build_lines(
    words: Sequence[_Word],
    geo: _Geometry,
    baseline_of: Sequence[int],
    per_line: Sequence[int],
    space: float,
    indent: int,
    rng: random.Random,
    openers: int = 6,
) -> list[list[_Placed]]:
    """Fill lines left to right; a word that would break the line's overlap waits for a later line.

    Deferral (rather than rejection) keeps the exact word count. When the
    first waiting word gets almost no company (it is incompatible with the
    rest), the next ``openers - 1`` waiting words are tried as the line's
    opener instead; ``openers=1`` keeps the words in their order.
    """
    pending = list(words)
    lines: list[list[_Placed]] = []
    while pending:
        k = len(lines)
        if k >= len(baseline_of):
            raise _LayoutFailed
        limit = per_line[k % len(per_line)]
        start = geo.left + (indent if k == 0 else 0) + round(rng.uniform(-6, 10))
        enough = min(limit, len(pending), 3)
        best: tuple[list[_Placed], list[_Word]] | None = None
        for opener in range(min(len(pending), openers)):
            order = [pending[opener], *pending[:opener], *pending[opener + 1 :]]
            line, left = _fill_line(order, limit, start, baseline_of[k], geo, space, rng)
            if best is None or len(line) > len(best[0]):
                best = (line, left)
            if len(line) >= enough:
                break
        assert best is not None
        lines.append(best[0])
        pending = best[1]
    return lines


def _absorb_stragglers(
    lines: list[list[_Placed]], geo: _Geometry, space: float, rng: random.Random, most: int = 8
) -> None:
    """Move the words of short trailing lines to the ends of earlier lines where they fit.

    Deferral leaves the mutually incompatible leftovers for the end, one or
    two to a line, which no card writer would do.
    """
    while len(lines) >= 2 and len(lines[-1]) <= 2:
        targets = [list(line) for line in lines[:-1]]
        for placed in lines[-1]:
            for target in reversed(targets):
                if len(target) >= most:
                    continue
                moved = _try_append(target, placed.word, 0, target[0].line_baseline, geo, space, rng)
                if moved is not None:
                    target.append(moved)
                    break
            else:
                return
        lines[:] = targets


def _single_line(
    options: Sequence[tuple[str, ...]],
    render: Callable[[str], _Word],
    extent: tuple[int, int],
    geo: _Geometry,
    baselines: Sequence[int],
    space: float,
    rng: random.Random,
    align_right: bool = False,
) -> list[list[_Placed]]:
    """Lay out the first alternative that fits on one line; fall back to splitting it.

    The alternatives exist because some pairs (a comma-tailed headword with a
    descender next to a short ``ж.``) cannot overlap enough in some fonts.
    They are rendered only when tried, and one reaching above or below
    ``extent`` (the ink range the line pitch was computed for) is passed over.
    """
    fallback: list[list[_Placed]] | None = None
    for option in options:
        words = [render(w) for w in option]
        if any(w.ink[1] < extent[0] or w.ink[3] > extent[1] for w in words):
            continue
        try:
            lines = _build_lines(words, geo, baselines, [len(words)], space, 0, rng, openers=1)
        except _LayoutFailed:
            continue
        if len(lines) == 1:
            return [_align_right(lines[0], geo, rng)] if align_right else lines
        fallback = fallback or lines
    if fallback is None:
        raise _LayoutFailed
    return fallback


def _align_right(line: list[_Placed], geo: _Geometry, rng: random.Random) -> list[_Placed]:
    """Move a short line (the year) to the right edge when the move keeps its overlaps."""
    shift = geo.right - line[-1].pre_box[2] + geo.pad - round(rng.uniform(0, 40))
    moved: list[_Placed] = []
    for p in line:
        cand = geo.place(p.word, p.pre_box[0] + geo.pad + shift, p.line_baseline, p.baseline - p.line_baseline)
        if not _fits_line(moved, cand):
            return line
        moved.append(cand)
    return moved


@dataclass(frozen=True, slots=True, eq=False)
class _Layout:
    lines: list[list[_Placed]]
    first_baseline: int
    pitch: int


def _layout(
    content: _Content,
    path: str,
    size: int,
    geo: _Geometry,
    slant: float,
    rng: random.Random,
) -> _Layout:
    """Render the words at ``size`` and place them line by line; _LayoutFailed if they overflow."""
    rendered: dict[str, _Word] = {}

    def render(text: str) -> _Word:
        if text not in rendered:
            rendered[text] = _render_word(text, path, size, slant, rng)
        return rendered[text]

    for text in (*content.head_options[0], *content.place_options[0], *content.year_options[0]):
        render(text)
    # Each occurrence gets its own rendering: a hand never writes a word twice alike.
    defs = [_render_word(t, path, size, slant, rng) for t in content.definitions]
    examples = [_render_word(t, path, size, slant, rng) for t in content.examples]
    every = [*rendered.values(), *defs, *examples]
    top = min(w.ink[1] for w in every)
    bottom = max(w.ink[3] for w in every)
    ink_h = bottom - top
    box_h = ink_h + 2 * geo.pad + 6  # padding and baseline jitter
    span = geo.right - geo.left + 20
    tilt = (span * abs(geo.sin) + 3) / geo.cos
    pitch = math.ceil(max(rng.uniform(1.6, 1.8) * ink_h, box_h + tilt + 2))
    first = geo.top + geo.pad + 3 - top
    baselines = [first + i * pitch for i in range(128)]
    baselines = [b for b in baselines if b + bottom + geo.pad + 3 <= geo.bottom]
    space = min(max(_font(path, size).getlength(" "), 0.33 * size), 0.45 * size)

    lines: list[list[_Placed]] = []

    def remaining() -> list[int]:
        return baselines[len(lines) :]

    lines += _single_line(content.head_options, render, (top, bottom), geo, remaining(), space, rng)
    if defs:
        per_line = [rng.randint(4, 8) for _ in range(16)]
        indent = round(rng.uniform(0, 60))
        def_lines = _build_lines(defs, geo, remaining(), per_line, space, indent, rng)
        _absorb_stragglers(def_lines, geo, space, rng)
        lines += def_lines
    if examples:
        # The example starts its own paragraph, indented like the definition.
        per_line = [rng.randint(4, 8) for _ in range(16)]
        example_lines = _build_lines(examples, geo, remaining(), per_line, space, round(rng.uniform(20, 80)), rng)
        _absorb_stragglers(example_lines, geo, space, rng)
        lines += example_lines
    if content.place_options[0]:
        lines += _single_line(content.place_options, render, (top, bottom), geo, remaining(), space, rng)
    if content.year_options[0]:
        right = rng.random() < 0.4
        lines += _single_line(content.year_options, render, (top, bottom), geo, remaining(), space, rng, right)
    return _Layout(lines, first, pitch)
