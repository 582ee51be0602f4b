"""Paper, ink and the entry points: :func:`render_card` and :func:`write_cards`.

This is where a seed becomes a card. Each stage (text, layout attempts,
pixels) draws from its own sub-seed, so the same arguments always give the
same image and ground truth.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter

from kartoteka_dev.synthetic_cards.cards import STRUCK, CardWord, RenderOptions, SyntheticCard
from kartoteka_dev.synthetic_cards.content import _content
from kartoteka_dev.synthetic_cards.glyphs import default_fonts, usable_fonts
from kartoteka_dev.synthetic_cards.layout import _Geometry, _Layout, _layout, _LayoutFailed, _Placed

F32Array = npt.NDArray[np.float32]


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


def _stain(paper: F32Array, rng: np.random.Generator) -> None:
    """A water or tea stain: a soft brownish blot, darker at its rim, that text stays legible through."""
    height, width = paper.shape[:2]
    rx, ry = rng.uniform(0.04, 0.16) * width, rng.uniform(0.05, 0.2) * height
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    x0, x1 = max(0, int(cx - rx - 2)), min(width, int(cx + rx + 2))
    y0, y1 = max(0, int(cy - ry - 2)), min(height, int(cy + ry + 2))
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    r = np.sqrt(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2)
    wobble = 1.0 + 0.08 * np.sin(np.arctan2(ys - cy, xs - cx) * rng.integers(3, 7) + rng.uniform(0, 6.3))
    r = r * wobble
    strength = rng.uniform(0.08, 0.22)
    alpha = np.where(r < 1.0, strength * (0.45 + 0.55 * np.clip((r - 0.75) / 0.25, 0, 1) ** 2), 0.0)
    colour = np.array([150.0, 110.0, 60.0], dtype=np.float32) * rng.uniform(0.8, 1.1)
    region = paper[y0:y1, x0:x1]
    region[:] = region * (1.0 - alpha[:, :, None]) + alpha[:, :, None] * colour


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
    ±1.5°; ``font_paths`` defaults to :func:`default_fonts`.
    Raises ValueError when no font can draw Cyrillic or the words cannot fit.
    """
    width, height = size
    fonts = default_fonts() if font_paths is None else usable_fonts(font_paths)
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
    if noise and rng.random() < 0.25:
        for _ in range(rng.randint(1, 2)):
            _stain(paper, nrng)
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

    # A struck-out word is ink on the card but no word of it; a line of nothing else is no line.
    kept = [[p for p in line if not p.word.text.startswith(STRUCK)] for line in lines]
    card_lines = tuple(
        tuple(CardWord(p.word.text, p.box, i) for p in line) for i, line in enumerate(k for k in kept if k)
    )
    words = tuple(w for line in card_lines for w in line)
    text = "\n".join(" ".join(w.text for w in line) for line in card_lines)
    struck = tuple(p.box for line in lines for p in line if p.word.text.startswith(STRUCK))
    return SyntheticCard(image, words, card_lines, unicodedata.normalize("NFC", text), font, struck)


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
