"""How well a reading matches a card's ground truth: the figures a linguist asks for.

"How many letters and stress marks does it get wrong on our cards?" is answered
per card as error *counts* (never per-card ratios), so that an archive's figures
are totals over all of its cards: a two-word card does not weigh as much as a
forty-word one. Text is compared in NFC, as the transcript stores it.

* CER and WER compare the card's words in reading order, lines joined by a
  space: a line-grouping mistake is scored once, by the line figures, not again
  as missing and inserted characters.
* Folded figures ignore case and stress marks, which separates "read the word"
  from "read the word and its stress".
* Stress marks are scored on the letter they sit on: right, missing, extra, or
  on the wrong letter of the right word (one mistake, not a missing and an extra).
* Detection matches boxes one to one at IoU >= 0.5, best overlaps first.
* Line accuracy is over the words both sides found: true and predicted lines
  pair up one to one (most shared words first), and a word is right when it
  sits on its line's partner, in the true order.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.text import COMBINING_ACUTE
from kartoteka.domain.recognition.transcript import Transcript

COMBINING_GRAVE = "\u0300"
#: Primary and secondary stress. Other dialect marks are part of the letter they modify.
STRESS_MARKS = frozenset({COMBINING_ACUTE, COMBINING_GRAVE})
MATCH_IOU = 0.5

Pair = tuple[int | None, int | None]


@dataclass(frozen=True, slots=True)
class ReferenceWord:
    """A word as a person wrote it down; ``box`` is None where the ground truth has no geometry."""

    text: str
    box: Box | None = None


@dataclass(frozen=True, slots=True)
class ReferenceCard:
    """The ground truth of one card: its lines top to bottom, words in reading order."""

    name: str
    lines: tuple[tuple[ReferenceWord, ...], ...]

    @property
    def words(self) -> list[ReferenceWord]:
        return [word for line in self.lines for word in line]


@dataclass(frozen=True, slots=True)
class StressCounts:
    right: int = 0
    missing: int = 0
    extra: int = 0
    wrong_letter: int = 0

    def __add__(self, other: StressCounts) -> StressCounts:
        return StressCounts(
            self.right + other.right,
            self.missing + other.missing,
            self.extra + other.extra,
            self.wrong_letter + other.wrong_letter,
        )

    @property
    def accuracy(self) -> float:
        """Right marks over every mark either side wrote; 1.0 when neither wrote any."""
        total = self.right + self.missing + self.extra + self.wrong_letter
        return self.right / total if total else 1.0


@dataclass(frozen=True, slots=True)
class DetectionCounts:
    matched: int = 0
    predicted: int = 0
    expected: int = 0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(
            self.matched + other.matched, self.predicted + other.predicted, self.expected + other.expected
        )

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else float(self.expected == 0)

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else float(self.predicted == 0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class CardScore:
    """Error counts of one card; ``ratio`` fields are derived, sums are what aggregate."""

    name: str
    reference: str
    hypothesis: str
    char_errors: int
    char_errors_folded: int
    chars: int
    word_errors: int
    word_errors_folded: int
    words: int
    stress: StressCounts
    detection: DetectionCounts
    lines_right: int
    lines_scored: int

    @property
    def cer(self) -> float:
        return _rate(self.char_errors, self.chars)


def _rate(errors: int, length: int) -> float:
    """Errors per reference unit; an empty reference scores 0 if nothing was read, else 1 per unit read."""
    return errors / length if length else float(errors)


@dataclass(frozen=True, slots=True)
class QualitySummary:
    """Totals over a set of cards, as ``kartoteka eval`` reports them."""

    cards: int
    cer: float
    cer_folded: float
    wer: float
    wer_folded: float
    stress: StressCounts
    detection: DetectionCounts
    line_accuracy: float

    @classmethod
    def of(cls, scores: Sequence[CardScore]) -> QualitySummary:
        chars = sum(s.chars for s in scores)
        words = sum(s.words for s in scores)
        scored = sum(s.lines_scored for s in scores)
        stress, detection = StressCounts(), DetectionCounts()
        for score in scores:
            stress, detection = stress + score.stress, detection + score.detection
        return cls(
            cards=len(scores),
            cer=_rate(sum(s.char_errors for s in scores), chars),
            cer_folded=_rate(sum(s.char_errors_folded for s in scores), chars),
            wer=_rate(sum(s.word_errors for s in scores), words),
            wer_folded=_rate(sum(s.word_errors_folded for s in scores), words),
            stress=stress,
            detection=detection,
            # No word found on either side leaves grouping unmeasured: perfect only if there was nothing to find.
            line_accuracy=sum(s.lines_right for s in scores) / scored if scored else float(detection.expected == 0),
        )


def score_card(reference: ReferenceCard, reading: Transcript) -> CardScore:
    """Score one reading against its ground truth."""
    ref_words = [_nfc(w.text) for w in reference.words if _nfc(w.text)]
    hyp_words = [_nfc(w.text) for w in reading.words if _nfc(w.text)]
    ref_text, hyp_text = " ".join(ref_words), " ".join(hyp_words)
    lines_right, lines_scored = _line_counts(reference, reading)
    return CardScore(
        name=reference.name,
        reference="\n".join(" ".join(_nfc(w.text) for w in line) for line in reference.lines),
        hypothesis=reading.text,
        char_errors=edit_distance(ref_text, hyp_text),
        char_errors_folded=edit_distance(fold(ref_text), fold(hyp_text)),
        chars=len(ref_text),
        word_errors=edit_distance(ref_words, hyp_words),
        word_errors_folded=edit_distance([fold(w) for w in ref_words], [fold(w) for w in hyp_words]),
        words=len(ref_words),
        stress=stress_counts(ref_words, hyp_words),
        detection=_detection_counts(reference, reading),
        lines_right=lines_right,
        lines_scored=lines_scored,
    )


def fold(text: str) -> str:
    """Case and stress folded: what is left when only the letters are asked for."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text).casefold() if ch not in STRESS_MARKS)


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Levenshtein distance between two sequences (characters or words)."""
    previous = list(range(len(b) + 1))
    for i, item in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item != other)))
        previous = current
    return previous[-1]


def align(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[Pair]:
    """A minimal-edit alignment: ``(i, j)`` pairs, ``None`` on the side that has no counterpart."""
    rows = [list(range(len(b) + 1))]
    for i, item in enumerate(a, start=1):
        row = [i]
        for j, other in enumerate(b, start=1):
            row.append(min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (item != other)))
        rows.append(row)
    pairs: list[Pair] = []
    i, j = len(a), len(b)
    while i or j:
        if i and j and rows[i][j] == rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            i, j = i - 1, j - 1
            pairs.append((i, j))
        elif i and rows[i][j] == rows[i - 1][j] + 1:
            i -= 1
            pairs.append((i, None))
        else:
            j -= 1
            pairs.append((None, j))
    return pairs[::-1]


def stress_counts(reference: Sequence[str], hypothesis: Sequence[str]) -> StressCounts:
    """Score the stress marks of two word sequences, aligned as words by their folded forms."""
    total = StressCounts()
    for i, j in align([fold(w) for w in reference], [fold(w) for w in hypothesis]):
        ref = _letters(reference[i]) if i is not None else []
        hyp = _letters(hypothesis[j]) if j is not None else []
        total += _word_stress(ref, hyp)
    return total


def _letters(word: str) -> list[tuple[str, bool]]:
    """The word's letters (with any non-stress marks) and whether each carries a stress mark."""
    letters: list[tuple[str, bool]] = []
    for ch in unicodedata.normalize("NFC", word):
        if ch in STRESS_MARKS and letters:
            letters[-1] = (letters[-1][0], True)
        elif unicodedata.combining(ch) and letters:
            letters[-1] = (letters[-1][0] + ch, letters[-1][1])
        else:
            letters.append((ch, False))
    return letters


def _word_stress(ref: list[tuple[str, bool]], hyp: list[tuple[str, bool]]) -> StressCounts:
    right = missing = extra = 0
    for i, j in align([c.casefold() for c, _ in ref], [c.casefold() for c, _ in hyp]):
        marked_ref = i is not None and ref[i][1]
        marked_hyp = j is not None and hyp[j][1]
        right += marked_ref and marked_hyp
        missing += marked_ref and not marked_hyp
        extra += marked_hyp and not marked_ref
    wrong = min(missing, extra)  # the word's mark was written, on another letter
    return StressCounts(right=right, missing=missing - wrong, extra=extra - wrong, wrong_letter=wrong)


def match_boxes(expected: Sequence[Box], predicted: Sequence[Box], threshold: float = MATCH_IOU) -> dict[int, int]:
    """One-to-one matches ``expected index -> predicted index``, best overlaps first."""
    candidates = sorted(
        ((iou(e, p), i, j) for i, e in enumerate(expected) for j, p in enumerate(predicted)),
        key=lambda c: (-c[0], c[1], c[2]),
    )
    matches: dict[int, int] = {}
    taken: set[int] = set()
    for overlap, i, j in candidates:
        if overlap < threshold:
            break
        if i not in matches and j not in taken:
            matches[i] = j
            taken.add(j)
    return matches


def iou(a: Box, b: Box) -> float:
    inter = a.intersection_area(b)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def _detection_counts(reference: ReferenceCard, reading: Transcript) -> DetectionCounts:
    expected = [w.box for w in reference.words if w.box is not None]
    if len(expected) < len(reference.words):  # no geometry in this ground truth: nothing to score
        return DetectionCounts()
    predicted = [w.box for w in reading.words]
    return DetectionCounts(len(match_boxes(expected, predicted)), len(predicted), len(expected))


def _line_counts(reference: ReferenceCard, reading: Transcript) -> tuple[int, int]:
    truth = [(n, k, w.box) for n, line in enumerate(reference.lines) for k, w in enumerate(line)]
    if not truth or any(box is None for _, _, box in truth):
        return 0, 0
    found = [(n, k, w.box) for n, line in enumerate(reading.lines) for k, w in enumerate(line.words)]
    matches = match_boxes([box for _, _, box in truth if box is not None], [box for _, _, box in found])
    # True and predicted lines pair up one to one, most shared words first: a line split in two
    # or two lines merged into one leave the words of the lesser part unpaired.
    shared: dict[tuple[int, int], int] = {}
    for i, j in matches.items():
        key = (truth[i][0], found[j][0])
        shared[key] = shared.get(key, 0) + 1
    paired: set[tuple[int, int]] = set()
    used_true: set[int] = set()
    used_found: set[int] = set()
    for (line, predicted_line), _ in sorted(shared.items(), key=lambda item: (-item[1], item[0])):
        if line not in used_true and predicted_line not in used_found:
            paired.add((line, predicted_line))
            used_true.add(line)
            used_found.add(predicted_line)
    right = 0
    for line, predicted_line in paired:
        # This line's words on its paired line, in predicted order; those in the longest run of
        # increasing true positions are in order.
        placed = sorted(
            (found[j][1], truth[i][1])
            for i, j in matches.items()
            if truth[i][0] == line and found[j][0] == predicted_line
        )
        right += _longest_increasing([k for _, k in placed])
    return right, len(matches)


def _longest_increasing(values: Sequence[int]) -> int:
    best: list[int] = []
    for value in values:
        lo, hi = 0, len(best)
        while lo < hi:
            mid = (lo + hi) // 2
            if best[mid] < value:
                lo = mid + 1
            else:
                hi = mid
        best[lo : lo + 1] = [value]
    return len(best)


def _nfc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())
