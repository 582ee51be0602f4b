"""Fonts and word composition: which fonts can write a card and how one word's ink is drawn.

Words are composed glyph by glyph on their own alpha layer, so a word's box is
the bounding box of its actual ink rather than a font-metrics guess. None of
the installed handwriting fonts can be trusted with combining marks, so marks
are placed here: the font's own mark glyph when it has real ink, otherwise a
pen stroke drawn by :func:`_stroke_mark`, centred over the vowel's ink.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from kartoteka_dev.synthetic_cards.cards import ACUTE, STRUCK, UNDERTIE, Box

U8Array = npt.NDArray[np.uint8]

#: Handwriting-like fonts shipped by Debian; only those that really draw
#: Cyrillic (see :func:`usable_fonts`) are used.
DEFAULT_FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf"),
    Path("/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf"),
    Path("/usr/share/fonts/truetype/sjfonts/SteveHand.ttf"),
    Path("/usr/share/fonts/truetype/seto/setofont.ttf"),
    Path("/usr/share/fonts/truetype/kiloji/kiloji.ttf"),
    Path("/usr/share/fonts/truetype/kiloji/kiloji_b.ttf"),
    Path("/usr/share/fonts/truetype/kiloji/kiloji_p.ttf"),
    Path("/usr/share/fonts/truetype/kiloji/kiloji_d.ttf"),
)

_LOWER = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_REQUIRED_CHARS = _LOWER + _LOWER.upper() + "0123456789.,"
# A character no text font maps, so it renders as the font's .notdef box.
_MISSING_PROBE = "\U0010fffd"
_INK_THRESHOLD = 24  # layer alpha (of 255) that counts as ink for boxes


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


def default_fonts() -> tuple[Path, ...]:
    """The usable handwriting fonts, or DejaVu Sans from matplotlib's wheel when none is installed.

    A machine without the Debian font packages (``make run`` needs no root) still renders demo
    cards: in a print font, which only the training data cares about.
    """
    usable = usable_fonts()
    if usable:
        return usable
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return ()
    return usable_fonts([Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"])


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
    wobbles a pixel around the baseline. A :data:`STRUCK` word gets a pen
    line through it, inside its box.
    """
    struck = text.startswith(STRUCK)
    pieces = _Pieces()
    gap = 0.09 * size
    pen = _stroke_width(path, size)
    cursor = 0.0
    for cluster in _clusters(text.removeprefix(STRUCK)):
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
    if struck:
        pieces.add(_strike(round(cursor), size, pen, rng), -round(0.05 * size), -round(0.42 * size))
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


def _strike(width: int, size: int, pen: float, rng: random.Random) -> U8Array:
    """One or two slightly tilted pen lines a word long, as a collector crosses a word out."""
    height = round(0.3 * size)
    img = Image.new("L", (width + round(0.1 * size), height), 0)
    d = ImageDraw.Draw(img)
    lw = max(1, round(pen * rng.uniform(0.8, 1.1)))
    for _ in range(rng.choice((1, 1, 2))):
        y0, y1 = rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * height
        d.line([(0, y0), (img.width - 1, y1)], fill=255, width=lw)
    return np.asarray(img, dtype=np.uint8).copy()


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
