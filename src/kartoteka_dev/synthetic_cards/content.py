"""What a card says: the headword, definitions, an example, place and year, before any of it is drawn.

Text is chosen with its own random stream, so the words of a card do not
depend on the font or on how many layout attempts it took. A share of the
definition words are made up from Russian syllables rather than taken from
the vocabulary, so cards of a new seed hold words no earlier card had: a
recogniser trained on some seeds is measured on others for reading letters,
not for remembering a word list.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass

from kartoteka_dev.synthetic_cards.cards import ACUTE, RARE_MARKS, STRUCK, UNDERTIE
from kartoteka_dev.synthetic_cards.vocabulary import (
    _COLLECTORS,
    _DISTRICTS,
    _HEADWORDS,
    _REGIONS,
    _UNDERTIE_PHRASES,
    _VILLAGES_ONE,
    _VILLAGES_TWO,
    _VOCABULARY,
)

_VOWELS = "аеиоуыэюяАЕИОУЫЭЮЯ"
_ONSETS = (
    "б",
    "в",
    "г",
    "д",
    "ж",
    "з",
    "к",
    "л",
    "м",
    "н",
    "п",
    "р",
    "с",
    "т",
    "х",
    "ч",
    "ш",
    "бр",
    "гл",
    "др",
    "кр",
    "ст",
    "пл",
    "тр",
    "сл",
    "зв",
    "",
    "",
)
_NUCLEI = ("а", "а", "а", "о", "о", "о", "у", "е", "е", "и", "и", "ы", "я", "ю", "ё", "э")
_CODAS = ("", "", "", "", "н", "р", "л", "к", "с", "т", "й", "ш", "ть", "нь", "ст")


def _word(source: str) -> str:
    """Turn the source notation (``'`` stress, ``_`` undertie) into NFC text."""
    return unicodedata.normalize("NFC", source.replace("'", ACUTE).replace("_", UNDERTIE))


def _strip_stress(word: str) -> str:
    return word.replace(ACUTE, "")


def _capitalise(word: str) -> str:
    return word[:1].upper() + word[1:]


def _add_rare_mark(word: str, rng: random.Random) -> str:
    """Put a breve, inverted breve, circumflex or macron on an unstressed vowel."""
    decomposed = unicodedata.normalize("NFD", word)
    spots = [
        i
        for i, ch in enumerate(decomposed)
        # и + breve would silently become й; a vowel that already carries a mark is skipped.
        if ch in _VOWELS and ch not in "иИ" and not unicodedata.combining(decomposed[i + 1 : i + 2] or "a")
    ]
    if not spots:
        return word
    i = rng.choice(spots)
    marked = decomposed[: i + 1] + rng.choice(RARE_MARKS) + decomposed[i + 1 :]
    return unicodedata.normalize("NFC", marked)


def _made_up_word(rng: random.Random) -> str:
    """Two to four syllables of Russian shape with the stress on one of them."""
    syllables = [rng.choice(_ONSETS) + rng.choice(_NUCLEI) for _ in range(rng.randint(2, 4))]
    syllables[-1] += rng.choice(_CODAS)
    stressed = rng.randrange(len(syllables))
    word = "".join(s + ("'" if i == stressed else "") for i, s in enumerate(syllables))
    # The apostrophe follows the syllable, so it lands after a coda consonant: move it onto the vowel.
    word = re.sub(r"([аоуеиыяюёэ])([^аоуеиыяюёэ']+)'", r"\1'\2", word)
    return _word(word.replace("ё'", "ё"))  # ё is always stressed and written without the mark


def _definition_words(count: int, rng: random.Random, made_up: float = 0.0) -> list[str]:
    """Definition and example text: vocabulary words with occasional stress and dialect marks.

    ``made_up`` is the share of words made up by :func:`_made_up_word` instead.
    """
    words: list[str] = []
    sentence_start = True
    for i in range(count):
        if rng.random() < 0.06:
            w = _word(rng.choice(_UNDERTIE_PHRASES))
        elif made_up and rng.random() < made_up:
            w = _made_up_word(rng)
            if rng.random() > 0.5:
                w = _strip_stress(w)
        else:
            w = _word(rng.choice(_VOCABULARY))
            if rng.random() > 0.4:
                w = _strip_stress(w)
            if rng.random() < 0.05:
                w = _add_rare_mark(w, rng)
        if sentence_start:
            w = _capitalise(w)
        sentence_start = False
        last = i == count - 1
        roll = rng.random()
        if last or (roll < 0.12 and i < count - 2):
            w += "."
            sentence_start = True
        elif roll < 0.22 and i < count - 2:
            w += ","
        words.append(w)
    return words


def _place_words(count: int, rng: random.Random) -> list[str]:
    """A place line such as ``Арх., Пинеж., Карпова Гора`` with exactly ``count`` words."""
    if count <= 0:
        return []
    region, district = rng.choice(_REGIONS), rng.choice(_DISTRICTS)
    if count == 1:
        return [region]
    if count == 2:
        return [region + ",", district]
    village = rng.choice(_VILLAGES_ONE) if count == 3 else rng.choice(_VILLAGES_TWO)
    tokens = [region + ",", district + ",", *village.split()]
    while len(tokens) < count:
        tokens.append(rng.choice(_VILLAGES_ONE))
    return [_word(t) for t in tokens[:count]]


@dataclass(frozen=True, slots=True)
class _Content:
    head_options: tuple[tuple[str, ...], ...]  # alternatives for line 1
    definitions: tuple[str, ...]  # may hold a STRUCK word, which is drawn but not a word of the card
    examples: tuple[str, ...]  # an example of use: its own paragraph after the definitions
    place_options: tuple[tuple[str, ...], ...]
    year_options: tuple[tuple[str, ...], ...]  # empty tuple: no year line


def _content(n_words: int | None, rng: random.Random) -> _Content:
    """The text of a card; with ``n_words`` fixed, exactly that many words and no example or struck word."""
    n_example = 0
    if n_words is None:
        n_def = sum(rng.randint(3, 7) for _ in range(rng.randint(1, 3)))
        n_place = rng.randint(2, 4)
        n_head, n_year = 2, 1
        if rng.random() < 0.5:
            n_example = rng.randint(3, 7)
            n_def = max(2, n_def - n_example // 2)
    else:
        if n_words < 1:
            raise ValueError("n_words must be at least 1")
        n_head = min(2, n_words)
        n_year = 1 if n_words >= 3 else 0
        rest = n_words - n_head - n_year
        n_place = min(rng.randint(2, 4), rest - 1) if rest >= 3 else min(rest, 1)
        n_def = rest - n_place
    heads: list[tuple[str, ...]] = []
    for _ in range(16):
        word, note = rng.choice(_HEADWORDS)
        heads.append((_word(word) + ",", _word(note))[:n_head])
    places = tuple(tuple(_place_words(n_place, rng)) for _ in range(8))
    year = str(rng.randint(1946, 1989))
    if n_year and rng.random() < 0.2 and n_def > 0:
        # "1974 г." keeps the card's word count by borrowing from the definitions.
        # A short "г." may not overlap tall digits enough in some fonts; the
        # collector's surname (capital, no descenders) is the fallback.
        n_def -= 1
        collectors = rng.sample(_COLLECTORS, 4)
        year_options: tuple[tuple[str, ...], ...] = ((year, "г."), *((year + ",", c) for c in collectors))
    else:
        year_options = ((year,),) if n_year else ((),)
    made_up = 0.25 if n_words is None else 0.0
    definitions = _definition_words(n_def, rng, made_up)
    examples = _definition_words(n_example, rng, made_up) if n_example else []
    if n_words is None and len(definitions) >= 3 and rng.random() < 0.2:
        # A false start crossed out in the middle of a definition.
        at = rng.randrange(1, len(definitions) - 1)
        definitions.insert(at, STRUCK + _strip_stress(_word(rng.choice(_VOCABULARY))))
    return _Content(tuple(heads), tuple(definitions), tuple(examples), places, year_options)
