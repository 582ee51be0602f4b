"""The edits a linguist makes to a machine transcript, as pure functions of the transcript.

Corrections keep the transcript's structure — lines of words, each word with
its box on the scan — because exports (PAGE, ALTO) and highlights in search
results show words where they are on the card. So every edit says what
happens to the boxes too: an edited word keeps its box; a split divides it
(where the editor says, or in proportion to the letters); a join takes the
union; retyped lines and whole texts keep the boxes of the words that stayed
and share out the rest.

Text an editor types is normalised like recognised text (NFC, no control
characters, single spaces), so a correction compares, searches and exports
like the machine's own words. Text a person typed is certain: its recognition
confidence becomes 1; a box a person drew gets detection confidence 1.

Indices count from 0, as lines and words are listed in the transcript's JSON,
and each edit of a request applies to the result of the edits before it.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from kartoteka.domain.errors import Refusal
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.search_forms import search_form
from kartoteka.domain.recognition.text import normalize_text
from kartoteka.domain.recognition.transcript import Transcript, TranscriptLine, TranscriptWord

CERTAIN = 1.0


class CorrectionError(Refusal, ValueError):
    """An edit that cannot apply to this transcript: a missing line or word, empty text, a box off the card."""

    @property
    def message(self) -> str:
        return f"the edit cannot be applied: {self}"

    @property
    def detail(self) -> object:
        return {"reason": str(self)}


class Edit(Protocol):
    def apply(self, transcript: Transcript) -> Transcript: ...

    def describe(self) -> dict[str, Any]:
        """The edit as a JSON-ready record for the revision history."""
        ...


def apply_edits(transcript: Transcript, edits: Sequence[Edit]) -> Transcript:
    if not edits:
        raise CorrectionError("no edits given")
    for edit in edits:
        transcript = edit.apply(transcript)
    return transcript


# ------------------------------------------------------------------------------------------ helpers


def _typed(text: str, what: str) -> str:
    cleaned = normalize_text(text)
    if not cleaned:
        raise CorrectionError(f"{what} is empty; delete the word instead")
    return cleaned


def _one_word(text: str, what: str) -> str:
    cleaned = _typed(text, what)
    if " " in cleaned:
        raise CorrectionError(f"{what} must be a single word, not {cleaned!r}")
    return cleaned


def _line_at(transcript: Transcript, index: int) -> TranscriptLine:
    if not 0 <= index < len(transcript.lines):
        raise CorrectionError(f"there is no line {index}; the transcript has {len(transcript.lines)} (counting from 0)")
    return transcript.lines[index]


def _word_at(transcript: Transcript, line_index: int, word_index: int) -> TranscriptWord:
    line = _line_at(transcript, line_index)
    if not 0 <= word_index < len(line.words):
        raise CorrectionError(
            f"there is no word {word_index} in line {line_index}; it has {len(line.words)} (counting from 0)"
        )
    return line.words[word_index]


def _with_words(transcript: Transcript, line_index: int, words: Sequence[TranscriptWord]) -> Transcript:
    """The transcript with one line's words replaced; a line left without words disappears."""
    lines = list(transcript.lines)
    if words:
        lines[line_index] = TranscriptLine(words=tuple(words))
    else:
        del lines[line_index]
    return replace(transcript, lines=tuple(lines))


def split_box(box: Box, weights: Sequence[float], cuts: Sequence[float] | None = None) -> list[Box]:
    """Cut a box into vertical strips, at ``cuts`` (x coordinates) or in proportion to ``weights``."""
    if cuts is None:
        total = sum(weights)
        edges = [box.x1]
        for weight in weights[:-1]:
            edges.append(edges[-1] + box.width * weight / total)
        edges.append(box.x2)
    else:
        edges = [box.x1, *cuts, box.x2]
    return [Box(left, box.y1, right, box.y2) for left, right in itertools.pairwise(edges)]


def _letters(text: str) -> int:
    return max(1, len(search_form(text)))


def _spread(texts: Sequence[str], box: Box, detection: float) -> list[TranscriptWord]:
    """Words typed into a region whose boxes nobody drew: the region shared out by their lengths."""
    boxes = split_box(box, [_letters(t) for t in texts])
    return [TranscriptWord(t, b, detection, CERTAIN) for t, b in zip(texts, boxes, strict=True)]


def _union(boxes: Sequence[Box]) -> Box:
    result = boxes[0]
    for box in boxes[1:]:
        result = result.union(box)
    return result


def _mean_detection(words: Sequence[TranscriptWord]) -> float:
    return sum(w.detection_confidence for w in words) / len(words) if words else CERTAIN


def retype_line(words: Sequence[TranscriptWord], texts: Sequence[str], line_box: Box) -> list[TranscriptWord]:
    """New text for a line of words: words that stayed keep their boxes, changed ones share their region.

    Words are matched by their search forms (so re-typing a stress mark keeps
    the box). A run of old words replaced by a run of new ones shares out the
    old run's region; when words are only inserted there is no region to give
    them, and the whole line is shared out by word length instead.
    """
    if len(words) == len(texts):
        return [_retyped(w, t) for w, t in zip(words, texts, strict=True)]
    matcher = difflib.SequenceMatcher(
        a=[search_form(w.text) for w in words], b=[search_form(t) for t in texts], autojunk=False
    )
    opcodes = matcher.get_opcodes()
    if any(tag == "insert" for tag, *_ in opcodes):
        return _spread(texts, line_box, _mean_detection(words))
    result: list[TranscriptWord] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            result += [_retyped(w, t) for w, t in zip(words[i1:i2], texts[j1:j2], strict=True)]
        elif tag == "replace":
            old = words[i1:i2]
            result += _spread(texts[j1:j2], _union([w.box for w in old]), _mean_detection(old))
        # "delete": the old words are gone with their boxes
    return result


def _retyped(word: TranscriptWord, text: str) -> TranscriptWord:
    if text == word.text:
        return word
    return replace(word, text=text, recognition_confidence=CERTAIN)


# ------------------------------------------------------------------------------------------- edits


@dataclass(frozen=True, slots=True)
class EditWord:
    """Retype (or confirm) one word; typing several words splits its box between them by their lengths."""

    line: int
    word: int
    text: str

    def apply(self, transcript: Transcript) -> Transcript:
        old = _word_at(transcript, self.line, self.word)
        texts = _typed(self.text, "the word's text").split(" ")
        words = list(transcript.lines[self.line].words)
        if len(texts) == 1:  # typed by a person, even if the same as read: confirmed
            words[self.word] = replace(old, text=texts[0], recognition_confidence=CERTAIN)
        else:
            words[self.word : self.word + 1] = _spread(texts, old.box, old.detection_confidence)
        return _with_words(transcript, self.line, words)

    def describe(self) -> dict[str, Any]:
        return {"op": "edit_word", "line": self.line, "word": self.word, "text": normalize_text(self.text)}


@dataclass(frozen=True, slots=True)
class EditLine:
    """Retype a whole line; see ``retype_line`` for what happens to the boxes."""

    line: int
    text: str

    def apply(self, transcript: Transcript) -> Transcript:
        line = _line_at(transcript, self.line)
        texts = _typed(self.text, "the line's text").split(" ")
        assert line.box is not None  # stored lines always hold words
        return _with_words(transcript, self.line, retype_line(line.words, texts, line.box))

    def describe(self) -> dict[str, Any]:
        return {"op": "edit_line", "line": self.line, "text": normalize_text(self.text)}


@dataclass(frozen=True, slots=True)
class SplitWord:
    """One word read as two or more: ``texts`` left to right, cut at ``at`` (x in card pixels) or by length."""

    line: int
    word: int
    texts: tuple[str, ...]
    at: tuple[float, ...] | None = None

    def apply(self, transcript: Transcript) -> Transcript:
        old = _word_at(transcript, self.line, self.word)
        texts = [_one_word(t, "each part of a split word") for t in self.texts]
        if len(texts) < 2:
            raise CorrectionError("a split gives at least two words")
        cuts = None
        if self.at is not None:
            cuts = list(self.at)
            if len(cuts) != len(texts) - 1:
                raise CorrectionError(f"{len(texts)} parts need {len(texts) - 1} cut positions, not {len(cuts)}")
            edges = [old.box.x1, *cuts, old.box.x2]
            if any(not left < right for left, right in itertools.pairwise(edges)):
                raise CorrectionError(
                    f"cut positions must increase strictly inside the word's box ({old.box.x1:g}…{old.box.x2:g})"
                )
        boxes = split_box(old.box, [_letters(t) for t in texts], cuts)
        parts = [TranscriptWord(t, b, old.detection_confidence, CERTAIN) for t, b in zip(texts, boxes, strict=True)]
        words = list(transcript.lines[self.line].words)
        words[self.word : self.word + 1] = parts
        return _with_words(transcript, self.line, words)

    def describe(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "op": "split_word",
            "line": self.line,
            "word": self.word,
            "texts": [normalize_text(t) for t in self.texts],
        }
        if self.at is not None:
            record["at"] = list(self.at)
        return record


@dataclass(frozen=True, slots=True)
class JoinWords:
    """Neighbouring words that are one word: their boxes' union, their texts run together unless ``text`` says."""

    line: int
    word: int
    count: int = 2
    text: str | None = None

    def apply(self, transcript: Transcript) -> Transcript:
        if self.count < 2:
            raise CorrectionError("a join takes at least two words")
        _word_at(transcript, self.line, self.word)
        _word_at(transcript, self.line, self.word + self.count - 1)
        words = list(transcript.lines[self.line].words)
        joined = words[self.word : self.word + self.count]
        text = _one_word(self.text if self.text is not None else "".join(w.text for w in joined), "the joined word")
        merged = TranscriptWord(
            text,
            _union([w.box for w in joined]),
            min(w.detection_confidence for w in joined),
            CERTAIN,
        )
        words[self.word : self.word + self.count] = [merged]
        return _with_words(transcript, self.line, words)

    def describe(self) -> dict[str, Any]:
        record: dict[str, Any] = {"op": "join_words", "line": self.line, "word": self.word, "count": self.count}
        if self.text is not None:
            record["text"] = normalize_text(self.text)
        return record


@dataclass(frozen=True, slots=True)
class SetBox:
    """Redraw a word's box; it must have an area and lie on the card."""

    line: int
    word: int
    box: Box

    def apply(self, transcript: Transcript) -> Transcript:
        old = _word_at(transcript, self.line, self.word)
        b = self.box
        if b.is_degenerate:
            raise CorrectionError("the box has no area")
        if (
            transcript.width > 0
            and transcript.height > 0
            and (b.x1 < 0 or b.y1 < 0 or b.x2 > transcript.width or b.y2 > transcript.height)
        ):
            raise CorrectionError(
                f"the box {list(b.as_tuple())} is off the {transcript.width}×{transcript.height} card"
            )
        words = list(transcript.lines[self.line].words)
        words[self.word] = replace(old, box=b, detection_confidence=CERTAIN)
        return _with_words(transcript, self.line, words)

    def describe(self) -> dict[str, Any]:
        return {"op": "set_box", "line": self.line, "word": self.word, "box": list(self.box.as_tuple())}


@dataclass(frozen=True, slots=True)
class DeleteWord:
    """A word that is not there (a smudge, a ruling line read as a letter); an emptied line goes too."""

    line: int
    word: int

    def apply(self, transcript: Transcript) -> Transcript:
        _word_at(transcript, self.line, self.word)
        words = list(transcript.lines[self.line].words)
        del words[self.word]
        return _with_words(transcript, self.line, words)

    def describe(self) -> dict[str, Any]:
        return {"op": "delete_word", "line": self.line, "word": self.word}


@dataclass(frozen=True, slots=True)
class ReplaceText:
    """The whole text retyped, lines by newlines (what ``PUT /task/update_text`` sends).

    Line *n* of the new text takes the place of line *n* of the transcript and
    keeps what it can of its boxes (see ``retype_line``). Extra lines are laid
    out below the last one at the average line height, within the card; lines
    the new text no longer has are dropped.
    """

    text: str

    def apply(self, transcript: Transcript) -> Transcript:
        texts = [line for line in (normalize_text(raw) for raw in self.text.splitlines()) if line]
        old = [line for line in transcript.lines if line.box is not None]
        placed = _new_line_boxes(transcript, old, len(texts))
        lines: list[TranscriptLine] = []
        for index, text in enumerate(texts):
            words = text.split(" ")
            if index < len(old):
                box = old[index].box
                assert box is not None
                lines.append(TranscriptLine(tuple(retype_line(old[index].words, words, box))))
            else:
                lines.append(TranscriptLine(tuple(_spread(words, placed[index - len(old)], CERTAIN))))
        return replace(transcript, lines=tuple(lines))

    def describe(self) -> dict[str, Any]:
        return {"op": "replace_text", "text": "\n".join(normalize_text(line) for line in self.text.splitlines())}


def _new_line_boxes(transcript: Transcript, old: Sequence[TranscriptLine], wanted: int) -> list[Box]:
    """Boxes for lines typed beyond the recognised ones: stacked under them, squeezed to fit the card."""
    extra = wanted - len(old)
    if extra <= 0:
        return []
    width = float(transcript.width) if transcript.width > 0 else 1.0
    height = float(transcript.height) if transcript.height > 0 else float(extra)
    if not old:
        step = height / extra
        return [Box(0.0, i * step, width, (i + 1) * step) for i in range(extra)]
    boxes = [line.box for line in old if line.box is not None]
    line_height = sum(b.height for b in boxes) / len(boxes)
    left = min(b.x1 for b in boxes)
    right = max(b.x2 for b in boxes)
    top = max(b.y2 for b in boxes)
    room = max(0.0, height - top)
    step = min(line_height, room / extra) if room > 0 else 0.0
    if step <= 0:  # the recognised lines reach the bottom: the new ones share the last line's strip
        last = boxes[-1]
        step = last.height / extra
        top = last.y1
    return [Box(left, top + i * step, right, top + (i + 1) * step) for i in range(extra)]


@dataclass(frozen=True, slots=True)
class ReplaceTranscript:
    """A whole earlier revision brought back as the newest one (nothing in between is lost)."""

    transcript: Transcript
    source_revision: int

    def apply(self, transcript: Transcript) -> Transcript:
        return self.transcript

    def describe(self) -> dict[str, Any]:
        return {"op": "restore", "revision": self.source_revision}
