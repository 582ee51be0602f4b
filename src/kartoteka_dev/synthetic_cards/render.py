"""Synthetic dialect-dictionary word cards with exact word-level ground truth.

There are no real card scans we may ship, yet detection, line grouping, OCR
and the benchmarks all need card images whose words, boxes and reading order
are known exactly. This module draws cards that look like the archive's: a
stressed headword with a grammatical note, definition lines, a place line and
a year, written in a handwriting-like font on off-white paper, slightly
rotated, blurred and noisy.

Words are composed glyph by glyph on their own layer, so every word's box is
the bounding box of its actual ink rather than a font-metrics guess, and the
same rotation that turns the page turns the boxes. The layout keeps the
properties the greedy line grouper of :mod:`kartoteka.domain.recognition.layout`
relies on: lines never overlap vertically, and words of one line overlap each
other by at least :data:`LINE_OVERLAP` of each box's height (every pair on an
unrotated card, reading-order neighbours on a rotated one, where the slope of
the line makes the far ends of a line drift apart).

None of the installed handwriting fonts can be trusted with combining marks
(Klee One has the acute, breve, circumflex, macron and diaeresis but places
them for its full-width cells, setofont's marks are empty, SteveHand and
kiloji have none, and HarfBuzz adds a dotted circle under a lone mark), so
marks are placed by this module: the font's own mark glyph when it has real
ink, otherwise a pen stroke drawn here, centred over the vowel's ink.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = [
    "ACUTE",
    "DEFAULT_FONT_CANDIDATES",
    "LINE_OVERLAP",
    "RARE_MARKS",
    "UNDERTIE",
    "CardWord",
    "RenderOptions",
    "SyntheticCard",
    "render_card",
    "usable_fonts",
    "write_cards",
]

Box = tuple[int, int, int, int]
U8Array = npt.NDArray[np.uint8]
F32Array = npt.NDArray[np.float32]

ACUTE = "\u0301"
UNDERTIE = "\u203f"
#: Rarer diacritics of dialect transcription: breve, inverted breve, circumflex, macron.
RARE_MARKS = ("\u0306", "\u0311", "\u0302", "\u0304")

#: Share of each box's height that words of one line overlap by; the line
#: grouper's default threshold.
LINE_OVERLAP = 0.6

#: Handwriting-like fonts shipped by Debian; only those that really draw
#: Cyrillic (see :func:`usable_fonts`) are used.
DEFAULT_FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf"),
    Path("/usr/share/fonts/truetype/sjfonts/SteveHand.ttf"),
    Path("/usr/share/fonts/truetype/seto/setofont.ttf"),
    Path("/usr/share/fonts/truetype/kiloji/kiloji.ttf"),
)

_LOWER = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_REQUIRED_CHARS = _LOWER + _LOWER.upper() + "0123456789.,"
_VOWELS = "аеиоуыэюяАЕИОУЫЭЮЯ"
# A character no text font maps, so it renders as the font's .notdef box.
_MISSING_PROBE = "\U0010fffd"
_INK_THRESHOLD = 24  # layer alpha (of 255) that counts as ink for boxes

# --- vocabulary -------------------------------------------------------------
# Stress is written as an apostrophe after the stressed vowel and an undertie
# as "_", which keeps the source free of invisible combining characters.

_HEADWORDS: tuple[tuple[str, str], ...] = (
    ("Ба'тюшка", "м."),
    ("Ба'ушка", "ж."),
    ("Ба'йна", "ж."),
    ("Ба'ско", "нареч."),
    ("Ба'ять", "несов."),
    ("Ба'ский", "прил."),
    ("Ве'кша", "ж."),
    ("Ве'ред", "м."),
    ("Ве'чорка", "ж."),
    ("Ве'ник", "м."),
    ("Голбе'ц", "м."),
    ("Гумно'", "ср."),
    ("Гуля'нка", "ж."),
    ("Дро'ля", "м."),
    ("Жи'то", "ср."),
    ("За'ступ", "м."),
    ("Зы'бка", "ж."),
    ("Изба'", "ж."),
    ("Ки'бас", "м."),
    ("Ко'кора", "ж."),
    ("Ку'жель", "м."),
    ("Ла'ва", "ж."),
    ("Ла'тка", "ж."),
    ("Ло'поть", "ж."),
    ("Лони'сь", "нареч."),
    ("Ма'тица", "ж."),
    ("Межа'", "ж."),
    ("Мо'лодка", "ж."),
    ("Моро'шка", "ж."),
    ("Мурава'", "ж."),
    ("На'волок", "м."),
    ("Ны'нче", "нареч."),
    ("Охлу'пень", "м."),
    ("Пе'стерь", "м."),
    ("Пове'ть", "ж."),
    ("Поле'нница", "ж."),
    ("Полови'к", "м."),
    ("Полу'дница", "ж."),
    ("Поско'тина", "ж."),
    ("Пря'сло", "ср."),
    ("Ру'ньше", "нареч."),
    ("Сара'фан", "м."),
    ("Се'ни", "мн."),
    ("Су'слон", "м."),
    ("Сусе'к", "м."),
    ("Та'мока", "нареч."),
    ("Ту'ес", "м."),
    ("Ту'тока", "нареч."),
    ("Уго'р", "м."),
    ("Ухва'т", "м."),
    ("Ушка'н", "м."),
    ("Ча'пельник", "м."),
    ("Чу'нки", "мн."),
    ("Ша'ньга", "ж."),
    ("Шесто'к", "м."),
    ("Ба'енка", "ж."),
    ("Бесе'да", "ж."),
    ("Гости'ть", "несов."),
    ("Кра'сна", "прил."),
    ("Пожи'ть", "сов."),
    ("Оку'тать", "сов."),
    ("Пова'литься", "сов."),
)

_VOCABULARY_TEXT = """
а в и к о с у не да на за по из до от под над же ли бы то как так что где там тут
уж вот ещё всё
доро'га бе'рег бере'за боло'то ветла' во'да во'здух гора' гри'бы дере'вня до'ждь
дом двор дро'ва земля' зима' изба' ка'мень колоде'ц коро'ва ко'нь ле'с лу'г
луна' ме'льница мо'ре мо'х не'бо о'зеро о'вин па'шня песо'к пе'чка по'ле
полоте'нце пото'лок река' ро'ща руче'й са'ни село' сено'кос со'лнце сосна'
стекло' сто'л ту'ча ти'шина трава' у'лица хле'б хозя'йка хозя'ин це'рковь
я'года я'сли ямщи'к ба'ня бе'лка бо'чка ведро' верёвка ворота' ги'ря горшо'к
ды'м жена' жени'х заря' зерно' ико'на ка'тер клю'ч ковш коры'то коса'
кра'й кры'ша ку'зница ла'вка ло'дка ло'жка ма'сло ме'шок молоко' мо'ст неве'ста
ове'с огоро'д окно' пе'сня пиро'г плато'к пле'тень по'греб поро'г пря'жа
ры'ба ры'бак самова'р сапо'г сара'й скаме'йка сме'тана соба'ка сту'жа та'зик
теле'га то'пор тропа' у'гол у'жин фона'рь хлев холст ча'шка черёмуха ши'ло
щу'ка я'блоко я'ма
ба'ба де'д де'душка ма'тушка ма'ма ба'тя сы'н до'чка ребя'та де'вка па'рень
сосе'д сосе'дка ста'рик стару'ха кума' ку'м ня'нька
ходи'ть ходи'ли пошли' пое'хать е'здили говори'ть говори'ли сказа'ла сказа'л
носи'ть несли' жи'ть жи'ли рабо'тать рабо'тали паха'ть коси'ть жа'ть молоти'ть
печь пекли' вари'ть вари'ли пря'сть тка'ть ши'ть вяза'ть стро'или руби'ли
пили' е'ли спа'ть спа'ли сиде'ть стоя'ть лежа'ть пе'ть пе'ли пляса'ть игра'ли
смотре'ть гляде'ть зна'ть помни'т зову'т называ'ют быва'ло была' был бы'ли
бу'дет е'сть не'ту ста'ли ста'ла пришла' пришёл ушёл ушла' принесли' собира'ли
бра'ли кла'ли убира'ли лови'ть лови'ли суши'ли топи'ли мы'ли
ста'рый молодо'й большо'й ма'лый дли'нный коро'ткий высо'кий ни'зкий бе'лый
чёрный кра'сный зелёный си'ний се'рый тёплый холо'дный но'вый широ'кий
у'зкий густо'й ре'дкий круто'й ти'хий гро'мкий до'брый ми'лый худо'й ба'ский
лесно'й речно'й полево'й берёзовый дубо'вый льняно'й шерстяно'й
ра'ньше тепе'рь пото'м всегда' иногда' ча'сто ре'дко ле'том зимо'й о'сенью
весно'й у'тром ве'чером но'чью домо'й вниз наве'рх далеко' бли'зко мно'го
ма'ло о'чень совсе'м почти' то'лько уже' ещё опя'ть сно'ва ско'ро до'лго
ра'но по'здно
"""
_VOCABULARY = tuple(_VOCABULARY_TEXT.split())

_UNDERTIE_PHRASES = (
    "на'_гору",
    "за'_реку",
    "по'_воду",
    "по'д_гору",
    "и'з_лесу",
    "в_ле'с",
    "на'_поле",
    "за'_ворота",
    "по'_грибы",
    "не'_был",
    "на'_берег",
    "по'д_осень",
    "с_горы'",
    "до'_дому",
    "за'_год",
    "по'_лесу",
)

_REGIONS = ("Арх.", "Волог.", "Новг.", "Перм.", "Костр.", "Карел.", "Мурм.", "Твер.", "Яросл.")
_DISTRICTS = (
    "Пинеж.",
    "Мезен.",
    "Лешук.",
    "Холмог.",
    "Онеж.",
    "Устьян.",
    "Вельск.",
    "Тотем.",
    "Кирилл.",
    "Белозер.",
    "Вытег.",
    "Череп.",
    "Каргоп.",
    "Никол.",
    "Кадуй.",
)
_VILLAGES_ONE = (
    "Сура",
    "Явзора",
    "Кеврола",
    "Вожгора",
    "Нюхча",
    "Чаколы",
    "Веркола",
    "Палуга",
    "Ёркино",
    "Лавела",
    "Кушкопала",
    "Согра",
    "Кимжа",
    "Азаполье",
    "Лампожня",
)
_COLLECTORS = (
    "Иванова",
    "Никитина",
    "Комлева",
    "Климова",
    "Левина",
    "Мелехина",
    "Сенина",
    "Колесова",
    "Мамонтова",
    "Нелетова",
)
_VILLAGES_TWO = (
    "Карпова Гора",
    "Шотова Гора",
    "Верхняя Тойма",
    "Нижняя Пеша",
    "Большая Нисогора",
    "Малая Шелекса",
    "Красная Горка",
    "Новый Двор",
    "Усть Вая",
    "Кучкас Озеро",
)

# --- public data -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardWord:
    """One word of a synthetic card and where its ink is.

    ``box`` is ``(x1, y1, x2, y2)`` in final card pixels (after rotation),
    with ``x2``/``y2`` exclusive like a PIL crop box: the word's ink padded by
    2-3 px, or for a rotated card the axis-aligned box around the rotated
    padded box. ``line`` is the index of the word's line in reading order.
    """

    text: str
    box: Box
    line: int


@dataclass(frozen=True, slots=True)
class SyntheticCard:
    """A rendered card together with everything a test needs to score against it."""

    image: Image.Image  # RGB
    words: tuple[CardWord, ...]  # reading order
    lines: tuple[tuple[CardWord, ...], ...]  # top to bottom, left to right within a line
    text: str  # words joined by " " within a line, lines by "\n"; NFC
    font: str  # path of the font file the card was written in


class RenderOptions(TypedDict, total=False):
    """Keyword options of :func:`render_card` that :func:`write_cards` passes through."""

    n_words: int | None
    size: tuple[int, int]
    font_paths: Sequence[Path] | None
    rotation_deg: float | None
    noise: bool
    blur: bool


# --- fonts and glyphs --------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Glyph:
    """A glyph's ink bitmap, placed relative to the pen origin on the baseline."""

    mask: U8Array  # alpha, 0..255, cropped to the ink
    left: int  # x of mask[:, 0] relative to the origin
    top: int  # y of mask[0] relative to the baseline (negative above it)
    advance: float

    @property
    def right(self) -> int:
        return self.left + int(self.mask.shape[1])

    @property
    def bottom(self) -> int:
        return self.top + int(self.mask.shape[0])


@functools.lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    # Glyphs are drawn one at a time, so no shaping is wanted; HarfBuzz would
    # also put a dotted circle (U+25CC) under every lone combining mark.
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=8192)
def _glyph(path: str, size: int, char: str) -> _Glyph | None:
    """Render one character alone; None when the font draws nothing for it.

    Pillow reports the advance box instead of the ink box for several of
    these fonts (every Klee One glyph is 1 em wide), so the ink is measured
    from pixels.
    """
    font = _font(path, size)
    canvas = Image.new("L", (4 * size, 4 * size), 0)
    origin = (size, 3 * size)
    ImageDraw.Draw(canvas).text(origin, char, font=font, fill=255, anchor="ls")
    bbox = canvas.getbbox()
    if bbox is None:
        return None
    mask = np.asarray(canvas.crop(bbox), dtype=np.uint8).copy()
    return _Glyph(mask, bbox[0] - origin[0], bbox[1] - origin[1], float(font.getlength(char)))


def _same_bitmap(a: _Glyph, b: _Glyph) -> bool:
    return a.mask.shape == b.mask.shape and bool(np.array_equal(a.mask, b.mask))


@functools.lru_cache(maxsize=1024)
def _draws(path: str, size: int, char: str) -> bool:
    """Whether the font has real ink for ``char``: not empty, not its .notdef box.

    Several fonts map characters to empty or tofu glyphs (Delphine's whole
    Cyrillic block is .notdef boxes, setofont's breve is empty), so the cmap
    alone cannot be trusted.
    """
    glyph = _glyph(path, size, char)
    if glyph is None:
        return False
    notdef = _glyph(path, size, _MISSING_PROBE)
    return notdef is None or not _same_bitmap(glyph, notdef)


@functools.lru_cache(maxsize=64)
def _covers_cyrillic(path: str) -> bool:
    if not Path(path).is_file():
        return False
    try:
        _font(path, 48)
    except OSError:
        return False
    return all(_draws(path, 48, ch) for ch in _REQUIRED_CHARS)


def usable_fonts(candidates: Sequence[Path] = DEFAULT_FONT_CANDIDATES) -> tuple[Path, ...]:
    """The candidate fonts that exist and draw every Russian letter, digit and ``.,``.

    Combining marks and the undertie are not required: missing ones are drawn
    as pen strokes.
    """
    return tuple(p for p in candidates if _covers_cyrillic(str(p)))


@functools.lru_cache(maxsize=64)
def _stroke_width(path: str, size: int) -> float:
    """The pen width of the font, read off the vertical stem of ``l``."""
    glyph = _glyph(path, size, "l") or _glyph(path, size, "1")
    if glyph is None:
        return max(1.0, size / 16)
    row = glyph.mask[glyph.mask.shape[0] // 2]
    return max(1.0, min(size / 6, float(np.count_nonzero(row > 96))))


# --- word composition --------------------------------------------------------

_SUPERSAMPLE = 4


def _stroke_mark(mark: str, size: int, pen: float, rng: random.Random) -> U8Array:
    """Draw a diacritic (or the undertie) as a pen stroke, anti-aliased by supersampling."""
    s = _SUPERSAMPLE
    w = size * (0.36 if mark == UNDERTIE else 0.2) * rng.uniform(0.85, 1.15)
    h = size * (0.2 if mark == UNDERTIE else 0.17) * rng.uniform(0.85, 1.15)
    if mark == "\u0304":
        h = pen
    lw = max(1, round(pen * s * rng.uniform(0.8, 1.0)))
    margin = lw
    cw = round(w * s) + 2 * margin
    ch = round(h * s) + 2 * margin
    img = Image.new("L", (cw, ch), 0)
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = margin, margin, cw - margin - 1, ch - margin - 1
    if mark == ACUTE:
        d.line([(x0 + (x1 - x0) * 0.15, y1), (x1, y0)], fill=255, width=lw)
    elif mark == "\u0300":
        d.line([(x0, y0), (x1 - (x1 - x0) * 0.15, y1)], fill=255, width=lw)
    elif mark in ("\u0306", UNDERTIE):
        d.arc([x0, y0 - (y1 - y0), x1, y1], 15, 165, fill=255, width=lw)
    elif mark == "\u0311":
        d.arc([x0, y0, x1, y1 + (y1 - y0)], 195, 345, fill=255, width=lw)
    elif mark == "\u0302":
        mid = (x0 + x1) / 2
        d.line([(x0, y1), (mid, y0), (x1, y1)], fill=255, width=lw, joint="curve")
    elif mark == "\u0304":
        d.line([(x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2)], fill=255, width=lw)
    elif mark == "\u0308":
        r = lw
        for cx in (x0 + r, x1 - r):
            d.ellipse([cx - r, y1 - 2 * r, cx + r, y1], fill=255)
    else:
        raise ValueError(f"no pen stroke for U+{ord(mark):04X}")
    small = img.resize((max(1, round(cw / s)), max(1, round(ch / s))), Image.Resampling.BOX)
    bbox = small.getbbox()
    if bbox is None:  # pragma: no cover - the stroke always has ink
        return np.full((1, 1), 255, dtype=np.uint8)
    return np.asarray(small.crop(bbox), dtype=np.uint8).copy()


def _clusters(text: str) -> list[str]:
    """Split into base characters with their combining marks."""
    out: list[str] = []
    for ch in text:
        if out and unicodedata.combining(ch):
            out[-1] += ch
        else:
            out.append(ch)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class _Word:
    """A word rendered on its own alpha layer, positioned relative to its pen origin."""

    text: str
    layer: U8Array
    ox: int  # layer column 0 relative to the origin
    oy: int  # layer row 0 relative to the baseline
    ink: Box  # l, t, r, b of the ink relative to origin/baseline, r and b exclusive
    intensity: float

    @property
    def width(self) -> int:
        return self.ink[2] - self.ink[0]


class _Pieces:
    """Bitmaps collected for one word before they are merged into a layer."""

    def __init__(self) -> None:
        self.items: list[tuple[U8Array, int, int]] = []

    def add(self, mask: U8Array, x: int, y: int) -> None:
        self.items.append((mask, x, y))

    def merge(self) -> tuple[U8Array, int, int]:
        x0 = min(x for _, x, _ in self.items)
        y0 = min(y for _, _, y in self.items)
        x1 = max(x + m.shape[1] for m, x, _ in self.items)
        y1 = max(y + m.shape[0] for m, _, y in self.items)
        layer = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        for m, x, y in self.items:
            region = layer[y - y0 : y - y0 + m.shape[0], x - x0 : x - x0 + m.shape[1]]
            np.maximum(region, m, out=region)
        return layer, x0, y0


def _render_word(text: str, path: str, size: int, slant: float, rng: random.Random) -> _Word:
    """Lay out a word glyph by glyph with handwriting-like spacing and place its marks.

    Sidebearings are capped, because the Japanese fonts give Cyrillic letters
    full-width cells that look typed rather than written; each glyph also
    wobbles a pixel around the baseline.
    """
    pieces = _Pieces()
    gap = 0.09 * size
    pen = _stroke_width(path, size)
    cursor = 0.0
    for cluster in _clusters(text):
        if cluster == UNDERTIE and not _draws(path, size, UNDERTIE):
            mask = _stroke_mark(UNDERTIE, size, pen, rng)
            x = round(cursor + gap * 0.3)
            pieces.add(mask, x, round(size * 0.04))
            cursor = x + mask.shape[1] + gap * 0.3
            continue
        if len(cluster) == 1 and _draws(path, size, cluster):
            base_char, marks = cluster, ""
        else:
            # Fall back to the bare letter plus marks, keeping a precomposed
            # letter (ё, й) whenever the font has one.
            decomposed = unicodedata.normalize("NFD", cluster)
            base_char, marks = decomposed[0], decomposed[1:]
            composed = unicodedata.normalize("NFC", decomposed[:2])
            if marks and len(composed) == 1 and _draws(path, size, composed):
                base_char, marks = composed, marks[1:]
        base = _glyph(path, size, base_char)
        if base is None:
            raise ValueError(f"font {path} cannot draw {base_char!r}")
        lsb = max(0, base.left)
        rsb = max(0.0, base.advance - base.right)
        ink_left = cursor + min(lsb, gap / 2) + rng.uniform(-0.015, 0.015) * size
        x = round(ink_left)
        wobble = rng.choice((-1, 0, 0, 1))
        pieces.add(base.mask, x, base.top + wobble)
        centre = x + base.mask.shape[1] / 2
        above = base.top + wobble - max(1, round(0.07 * size))
        for mark in marks:
            native = _glyph(path, size, mark) if _draws(path, size, mark) else None
            mmask = native.mask if native is not None else _stroke_mark(mark, size, pen, rng)
            shift = 0.1 * base.mask.shape[1] if mark == ACUTE else 0.0
            mx = round(centre + shift + rng.uniform(-0.03, 0.03) * size - mmask.shape[1] / 2)
            my = above - mmask.shape[0]
            pieces.add(mmask, mx, my)
            above = my - max(1, round(0.04 * size))
        cursor = x + base.mask.shape[1] + min(rsb, gap / 2)
    layer, ox, oy = pieces.merge()
    if slant:
        layer, ox = _shear(layer, ox, oy, slant)
    ys, xs = np.nonzero(layer >= _INK_THRESHOLD)
    ink = (
        ox + int(xs.min()),
        oy + int(ys.min()),
        ox + int(xs.max()) + 1,
        oy + int(ys.max()) + 1,
    )
    return _Word(text, layer, ox, oy, ink, rng.uniform(0.86, 1.0))


def _shear(layer: U8Array, ox: int, oy: int, k: float) -> tuple[U8Array, int]:
    """Slant the word about its baseline, tops to the right for ``k > 0``."""
    h, w = layer.shape
    m = math.ceil(abs(k) * max(abs(oy), abs(oy + h))) + 1
    img = Image.fromarray(layer).transform(
        (w + 2 * m, h),
        Image.Transform.AFFINE,
        (1.0, k, -m + k * oy, 0.0, 1.0, 0.0),
        resample=Image.Resampling.BILINEAR,
    )
    return np.asarray(img, dtype=np.uint8).copy(), ox - m


# --- text content ------------------------------------------------------------


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


def _definition_words(count: int, rng: random.Random) -> list[str]:
    """Definition and example text: vocabulary words with occasional stress and dialect marks."""
    words: list[str] = []
    sentence_start = True
    for i in range(count):
        if rng.random() < 0.06:
            w = _word(rng.choice(_UNDERTIE_PHRASES))
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
    definitions: tuple[str, ...]
    place_options: tuple[tuple[str, ...], ...]
    year_options: tuple[tuple[str, ...], ...]  # empty tuple: no year line


def _content(n_words: int | None, rng: random.Random) -> _Content:
    if n_words is None:
        n_def = sum(rng.randint(3, 7) for _ in range(rng.randint(1, 3)))
        n_place = rng.randint(2, 4)
        n_head, n_year = 2, 1
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
    return _Content(tuple(heads), tuple(_definition_words(n_def, rng)), places, year_options)


# --- layout ------------------------------------------------------------------


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
    every = [*rendered.values(), *defs]
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
    if content.place_options[0]:
        lines += _single_line(content.place_options, render, (top, bottom), geo, remaining(), space, rng)
    if content.year_options[0]:
        right = rng.random() < 0.4
        lines += _single_line(content.year_options, render, (top, bottom), geo, remaining(), space, rng, right)
    return _Layout(lines, first, pitch)


# --- paper and ink -----------------------------------------------------------


def _paper(width: int, height: int, rng: np.random.Generator) -> tuple[F32Array, F32Array]:
    """Off-white card stock with slow blotchy colour variation; returns (image, base colour)."""
    base = np.array([rng.uniform(232, 248), rng.uniform(226, 242), rng.uniform(205, 230)], dtype=np.float32)
    # Brightness varies more than hue: old card stock is unevenly faded, not tie-dyed.
    fields = []
    for sigma in (3.0, 1.5):
        grid = rng.normal(0.0, sigma, size=(6, 8)).astype(np.float32)
        field = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
        fields.append(np.asarray(field, dtype=np.float32)[:, :, None])
    yellowing = np.array([0.3, 0.5, 1.0], dtype=np.float32)  # less blue where the paper yellowed
    paper = base + fields[0] - fields[1] * yellowing
    return paper.astype(np.float32), base


def _decorate(paper: F32Array, layout: _Layout, geo: _Geometry, rng: random.Random) -> None:
    """Faint ruled lines under the writing and/or a printed border, as on archive cards."""
    if rng.random() < 0.35:
        img = Image.new("L", (geo.width, geo.height), 0)
        d = ImageDraw.Draw(img)
        y = layout.first_baseline + rng.randint(1, 4)
        while y < geo.height - 20:
            d.line([(15, y), (geo.width - 15, y)], fill=255, width=1)
            y += layout.pitch
        _tint(paper, img, (120.0, 140.0, 185.0), rng.uniform(0.25, 0.4))
    if rng.random() < 0.5:
        img = Image.new("L", (geo.width, geo.height), 0)
        inset = rng.randint(14, 26)
        ImageDraw.Draw(img).rectangle(
            [inset, inset, geo.width - inset - 1, geo.height - inset - 1],
            outline=255,
            width=rng.randint(1, 3),
        )
        _tint(paper, img, (140.0, 110.0, 90.0), rng.uniform(0.35, 0.6))


def _tint(paper: F32Array, mask: Image.Image, colour: tuple[float, float, float], a: float) -> None:
    """Blend ``colour`` into the paper under the mask (only its few inked pixels are touched)."""
    m = np.asarray(mask)
    ys, xs = np.nonzero(m)
    alpha = m[ys, xs].astype(np.float32)[:, None] * (a / 255.0)
    paper[ys, xs] = paper[ys, xs] * (1.0 - alpha) + alpha * np.asarray(colour, dtype=np.float32)


def _ink_colour(rng: random.Random) -> tuple[float, float, float]:
    kind = rng.choice(("blue", "black", "violet"))
    j = rng.uniform(-8, 8)
    if kind == "blue":
        return (25 + j, 35 + j, 105 + j)
    if kind == "violet":
        return (60 + j, 35 + j, 95 + j)
    return (30 + j, 30 + j, 36 + j)


def _ink(paper: F32Array, placed: _Placed, colour: F32Array) -> None:
    w = placed.word
    x0, y0 = placed.x + w.ox, placed.baseline + w.oy
    h, wd = w.layer.shape
    # The layout keeps words inside the margins; clipping only guards the slicing.
    cx0, cy0 = max(0, -x0), max(0, -y0)
    cx1 = min(wd, paper.shape[1] - x0)
    cy1 = min(h, paper.shape[0] - y0)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    layer = w.layer[cy0:cy1, cx0:cx1]
    alpha = layer.astype(np.float32)[:, :, None] * (w.intensity / 255.0)
    region = paper[y0 + cy0 : y0 + cy1, x0 + cx0 : x0 + cx1]
    region *= 1.0 - alpha
    region += alpha * colour


# --- entry points ------------------------------------------------------------


def _sub_seed(seed: int, label: str) -> int:
    digest = hashlib.sha256(f"kartoteka-synthetic-card:{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def render_card(
    seed: int,
    *,
    n_words: int | None = None,
    size: tuple[int, int] = (1280, 900),
    font_paths: Sequence[Path] | None = None,
    rotation_deg: float | None = None,
    noise: bool = True,
    blur: bool = True,
) -> SyntheticCard:
    """Render one card; the same arguments always give the same pixels and words.

    ``n_words`` fixes the total word count (the headword, its note, the place
    and the year included). ``rotation_deg`` defaults to a random tilt within
    ±1.5°; ``font_paths`` defaults to the usable :data:`DEFAULT_FONT_CANDIDATES`.
    Raises ValueError when no font can draw Cyrillic or the words cannot fit.
    """
    width, height = size
    fonts = usable_fonts(DEFAULT_FONT_CANDIDATES if font_paths is None else font_paths)
    if not fonts:
        raise ValueError("none of the fonts draws Cyrillic text")
    rng = random.Random(_sub_seed(seed, "main"))
    font = str(rng.choice(fonts))
    angle = rng.uniform(-1.5, 1.5) if rotation_deg is None else float(rotation_deg)
    if abs(angle) >= 45:
        raise ValueError("rotation_deg must be within ±45°")
    slant = rng.uniform(-0.05, 0.16)
    content = _content(n_words, random.Random(_sub_seed(seed, "text")))
    pad = 3 if blur else 2
    scale = min(width / 1280, height / 900)
    font_size = round(rng.uniform(42, 54) * scale)
    attempt = 0
    while True:
        if font_size < 8:
            # Tilted lines need a vertical gap of about line width x sin(angle),
            # which no font size reduces: large rotations run out of lines first.
            raise ValueError(
                f"{len(content.definitions)} definition words do not fit a {width}x{height} card at {angle:.1f}°"
            )
        layout_rng = random.Random(_sub_seed(seed, f"layout{attempt}"))
        geo = _Geometry(width, height, angle, pad, layout_rng)
        try:
            layout = _layout(content, font, font_size, geo, slant, layout_rng)
            break
        except _LayoutFailed:
            font_size = math.floor(font_size * 0.92)
            attempt += 1

    nrng = np.random.default_rng(_sub_seed(seed, "pixels"))
    paper, base = _paper(width, height, nrng)
    _decorate(paper, layout, geo, rng)
    colour = np.asarray(_ink_colour(rng), dtype=np.float32)
    lines = layout.lines
    for line in lines:
        for placed in line:
            _ink(paper, placed, colour)
    image = Image.fromarray(np.clip(paper + 0.5, 0, 255).astype(np.uint8))
    if angle:
        fill = tuple(round(float(v)) for v in base)
        # Bilinear is a third of bicubic's cost, and its softening is lost in the blur anyway.
        image = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=fill)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 0.9)))
    if noise:
        # Sensor grain is mostly luminance; one plane shared by the channels is also 3x cheaper.
        sigma = rng.uniform(2.0, 4.5)
        grain = nrng.standard_normal(size=(height, width, 1), dtype=np.float32) * sigma
        image = Image.fromarray(np.clip(np.asarray(image, dtype=np.float32) + grain + 0.5, 0, 255).astype(np.uint8))

    card_lines = tuple(tuple(CardWord(p.word.text, p.box, i) for p in line) for i, line in enumerate(lines))
    words = tuple(w for line in card_lines for w in line)
    text = "\n".join(" ".join(w.text for w in line) for line in card_lines)
    return SyntheticCard(image, words, card_lines, unicodedata.normalize("NFC", text), font)


def write_cards(
    directory: Path, count: int, seed: int = 0, **kwargs: Unpack[RenderOptions]
) -> list[tuple[Path, SyntheticCard]]:
    """Render ``count`` cards (seeds ``seed``, ``seed + 1``, ...) as PNGs plus ``ground_truth.json``.

    The JSON is a list of ``{file, text, lines: [[{text, box}]]}``, with
    ``file`` relative to ``directory``, for CLI demos and manual inspection.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, SyntheticCard]] = []
    truth: list[dict[str, object]] = []
    for i in range(count):
        card = render_card(seed + i, **kwargs)
        path = directory / f"card_{seed + i:05d}.png"
        card.image.save(path)
        written.append((path, card))
        truth.append(
            {
                "file": path.name,
                "text": card.text,
                "lines": [[{"text": w.text, "box": list(w.box)} for w in line] for line in card.lines],
            }
        )
    (directory / "ground_truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return written
