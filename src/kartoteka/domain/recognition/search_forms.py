"""How a linguist's query meets a card's text: one folding, one tokenisation, one typo rule.

Cards carry stress and vowel-quality marks that nobody types into a search
box, and the same word is written with and without ``ё``, in capitals on a
headword line and in lower case in an example. Search therefore compares
*search forms*: lower case, ``ё`` read as ``е``, every combining mark dropped,
the undertie read as a space. ``й`` stays a letter of its own (it is not an
``и`` with a mark to a Russian reader), so does every other letter.

The same tokeniser cuts the stored text, the query and the line being
highlighted, so a word found in the index is always a word that can be
marked in the line a result shows.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from kartoteka.domain.recognition.text import UNDERTIE

# Letters that NFD would split into a base letter and a mark but that are letters of their own.
_KEPT_LETTERS = frozenset("йЙ")
_FOLDED_LETTERS = {"ё": "е", "Ё": "е"}


def _fold_char(ch: str) -> str:
    if ch in _KEPT_LETTERS:
        return ch.lower()
    if ch in _FOLDED_LETTERS:
        return _FOLDED_LETTERS[ch]
    if ch == UNDERTIE:
        return " "
    decomposed = unicodedata.normalize("NFD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search_form(text: str) -> str:
    """``Ба́тюшка`` → ``батюшка``; ``Ёлка`` → ``елка``; ``на‿горе`` → ``на горе``; ``й`` kept."""
    return "".join(_fold_char(ch) for ch in unicodedata.normalize("NFC", text))


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


@dataclass(frozen=True, slots=True)
class WordSpan:
    """A word of a text: where it is (code-point offsets, marks included) and its search form."""

    start: int
    end: int
    form: str


def word_spans(text: str) -> list[WordSpan]:
    """Words are runs of letters and digits; a combining mark belongs to the word it follows.

    ``что-то`` is two words, as it is in the index; ``Ба́тюшка`` is one, with its
    acute inside the span, so a highlight covers the whole written word.
    """
    spans: list[WordSpan] = []
    start: int | None = None
    for index, ch in enumerate(text):
        inside = _is_word_char(ch) or (start is not None and unicodedata.combining(ch) != 0)
        if inside and start is None:
            start = index
        elif not inside and start is not None:
            spans.extend(_spans_of(text, start, index))
            start = None
    if start is not None:
        spans.extend(_spans_of(text, start, len(text)))
    return spans


def _spans_of(text: str, start: int, end: int) -> list[WordSpan]:
    form = search_form(text[start:end])
    # Folding never adds separators to letters and marks, but be exact if a compatibility form did.
    return [WordSpan(start, end, form)] if form.isalnum() else [WordSpan(start, end, w) for w in _plain(form)]


def _plain(form: str) -> list[str]:
    words, current = [], []
    for ch in form:
        if ch.isalnum():
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def search_words(text: str) -> list[str]:
    """The search forms of a text's words, in order (what is indexed, and what a query asks for)."""
    return [span.form for span in word_spans(text)]


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau–Levenshtein (optimal string alignment) distance, or ``limit + 1`` once it exceeds ``limit``.

    A swapped pair of letters is the most common slip on a keyboard, so it
    counts as one edit, not two.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        # Nothing below can get back under the limit: every later cell grows from these two rows.
        if min(current) > limit and min(previous) >= limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


def typo_budget(term: str) -> int:
    """How many slips a query word may contain and still find its word.

    Short words have too many neighbours to guess at (``дом``/``дым``/``сом``),
    so they must be typed right; longer words forgive one slip, long ones two.
    """
    length = len(term)
    if length < 4:
        return 0
    if length < 8:
        return 1
    return 2


def is_near_miss(term: str, word: str) -> bool:
    """``word`` is what ``term`` would be with at most its typo budget of slips (and not the same word)."""
    budget = typo_budget(term)
    return budget > 0 and term != word and edit_distance(term, word, budget) <= budget
