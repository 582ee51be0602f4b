"""The synthetic cards must be exact ground truth, or every benchmark built on them lies.

Renders are cached per argument set so the suite draws about twenty cards in all.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import unicodedata
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.layout import Detection, group_into_lines
from kartoteka_dev.synthetic_cards import (
    ACUTE,
    LINE_OVERLAP,
    CardWord,
    SyntheticCard,
    render_card,
    usable_fonts,
    write_cards,
)
from kartoteka_dev.synthetic_cards.cards import STRUCK
from kartoteka_dev.synthetic_cards.content import _content
from kartoteka_dev.synthetic_cards.render import _stain
from kartoteka_dev.synthetic_cards.vocabulary import _VOCABULARY_TEXT

KLEE = Path("/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf")
DELPHINE = Path("/usr/share/fonts/truetype/sjfonts/Delphine.ttf")

pytestmark = pytest.mark.skipif(not usable_fonts(), reason="no handwriting font with Cyrillic installed")

SEEDS = (0, 1, 2, 3, 6)  # all four fonts: setofont, SteveHand, kiloji, SteveHand, Klee One
FEW = (0, 1, 2, 6)  # one card per font


@functools.cache
def card(
    seed: int,
    n_words: int | None = None,
    rotation_deg: float | None = None,
    noise: bool = True,
    blur: bool = True,
) -> SyntheticCard:
    return render_card(seed, n_words=n_words, rotation_deg=rotation_deg, noise=noise, blur=blur)


def clean(seed: int) -> SyntheticCard:
    """Unrotated, noiseless, sharp: the pixels say exactly where the ink is."""
    return card(seed, rotation_deg=0, noise=False, blur=False)


def darkness(image: Image.Image) -> npt.NDArray[np.float32]:
    """How much darker than the typical paper each pixel is."""
    lum = np.asarray(image.convert("L"), dtype=np.float32)
    return np.float32(np.median(lum)) - lum


def v_overlap_share(a: CardWord, b: CardWord) -> float:
    """Vertical overlap as a share of the taller box, i.e. of each box's height at worst."""
    inter = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    return inter / max(a.box[3] - a.box[1], b.box[3] - b.box[1])


def iou(a: CardWord, b: CardWord) -> float:
    w = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
    h = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    inter = max(w, 0) * max(h, 0)
    area = (a.box[2] - a.box[0]) * (a.box[3] - a.box[1]) + (b.box[2] - b.box[0]) * (b.box[3] - b.box[1])
    return inter / (area - inter)


def regroup(words: list[CardWord]) -> list[list[str]]:
    dets = [Detection(Box(*map(float, w.box)), 1.0) for w in words]
    by_box = {w.box: w.text for w in words}
    lines = group_into_lines(dets)
    return [[by_box[int(d.box.x1), int(d.box.y1), int(d.box.x2), int(d.box.y2)] for d in line] for line in lines]


def test_same_seed_same_card() -> None:
    a = render_card(5)
    b = render_card(5)
    assert a.words == b.words
    assert a.text == b.text
    assert a.font == b.font
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


def test_different_seeds_differ() -> None:
    texts = {card(s).text for s in SEEDS}
    assert len(texts) == len(SEEDS)
    assert not np.array_equal(np.asarray(card(0).image), np.asarray(card(1).image))


@pytest.mark.parametrize("seed", FEW)
def test_thirty_words_when_asked(seed: int) -> None:
    c = card(seed, n_words=30)
    assert len(c.words) == 30
    assert sum(len(line) for line in c.lines) == 30
    assert len(c.text.split()) == 30
    assert len(c.lines) >= 4


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 12, 45])
def test_any_word_count_is_exact(n: int) -> None:
    c = render_card(n, n_words=n, noise=False, blur=False)
    assert len(c.words) == n


def test_zero_words_rejected() -> None:
    with pytest.raises(ValueError, match="n_words"):
        render_card(0, n_words=0)


@pytest.mark.parametrize("seed", SEEDS)
def test_card_shape_and_paper(seed: int) -> None:
    c = card(seed)
    assert c.image.mode == "RGB"
    assert c.image.size == (1280, 900)
    r, g, b = np.median(np.asarray(c.image).reshape(-1, 3), axis=0)
    assert min(r, g, b) > 195, "paper should be off-white"
    assert r >= b, "paper is warm, not bluish"


@pytest.mark.parametrize("seed", SEEDS)
def test_boxes_inside_image_with_ink(seed: int) -> None:
    c = card(seed)
    w, h = c.image.size
    dark = darkness(c.image)
    for word in c.words:
        x1, y1, x2, y2 = word.box
        assert 0 <= x1 < x2 <= w, word
        assert 0 <= y1 < y2 <= h, word
        inside = dark[y1:y2, x1:x2]
        assert inside.mean() > 12, f"{word.text!r} has no ink in its box"
        assert inside.max() > 80, word.text


@pytest.mark.parametrize("seed", SEEDS)
def test_boxes_do_not_overlap(seed: int) -> None:
    words = card(seed).words
    for a, b in itertools.combinations(words, 2):
        assert iou(a, b) < 0.1, (a, b)


@pytest.mark.parametrize("seed", SEEDS)
def test_reading_order(seed: int) -> None:
    c = card(seed)
    assert c.words == tuple(w for line in c.lines for w in line)
    for i, line in enumerate(c.lines):
        assert line, "empty line"
        assert all(w.line == i for w in line)
        xs = [w.box[0] for w in line]
        assert xs == sorted(xs)
        assert len(set(xs)) == len(xs)
    for upper, lower in itertools.pairwise(c.lines):
        assert max(w.box[3] for w in upper) <= min(w.box[1] for w in lower), "lines overlap vertically"


@pytest.mark.parametrize("seed", SEEDS)
def test_neighbours_overlap_enough_on_tilted_cards(seed: int) -> None:
    for line in card(seed).lines:
        for a, b in itertools.pairwise(line):
            assert v_overlap_share(a, b) >= LINE_OVERLAP, (a, b)


@pytest.mark.parametrize("seed", FEW)
def test_every_pair_overlaps_enough_when_unrotated(seed: int) -> None:
    for c in (card(seed, rotation_deg=0), clean(seed)):
        for line in c.lines:
            for a, b in itertools.combinations(line, 2):
                assert v_overlap_share(a, b) >= LINE_OVERLAP, (a, b)


@pytest.mark.parametrize("seed", FEW)
def test_greedy_grouper_recovers_lines(seed: int) -> None:
    expected = [[w.text for w in line] for line in card(seed).lines]
    assert regroup(list(card(seed).words)) == expected
    # Unrotated, every pair qualifies, so the detection order does not matter.
    flat = card(seed, rotation_deg=0)
    shuffled = list(flat.words)
    random.Random(seed).shuffle(shuffled)
    assert regroup(shuffled) == [[w.text for w in line] for line in flat.lines]


@pytest.mark.parametrize("seed", SEEDS)
def test_text_is_nfc_and_joined_by_lines(seed: int) -> None:
    c = card(seed)
    assert c.text == "\n".join(" ".join(w.text for w in line) for line in c.lines)
    assert unicodedata.is_normalized("NFC", c.text)
    assert all(" " not in w.text and w.text for w in c.words)
    headword = c.lines[0][0].text
    assert ACUTE in headword
    assert headword[0].isupper()
    assert c.lines[-1][0].text.rstrip(",").isdigit(), "the card ends with the year"


def test_dialect_marks_appear_across_cards() -> None:
    text = "".join(card(s, n_words=30).text + card(s).text for s in FEW)
    text += "".join(render_card(s, n_words=60, noise=False, blur=False).text for s in range(100, 103))
    assert "\u203f" in text
    assert any(m in unicodedata.normalize("NFD", text) for m in ("\u0306", "\u0311", "\u0302", "\u0304"))


@pytest.mark.parametrize("seed", FEW)
def test_clean_boxes_are_tight_and_complete(seed: int) -> None:
    c = clean(seed)
    dark = darkness(c.image)
    covered = np.zeros(dark.shape, dtype=bool)
    for word in c.words:
        x1, y1, x2, y2 = word.box
        ys, xs = np.nonzero(dark[y1:y2, x1:x2] > 50)
        gaps = (xs.min(), ys.min(), (x2 - x1 - 1) - xs.max(), (y2 - y1 - 1) - ys.max())
        assert max(gaps) <= 4, (word, gaps)
        covered[y1:y2, x1:x2] = True
    for x1, y1, x2, y2 in c.struck:
        covered[y1:y2, x1:x2] = True
    strong = dark > 100
    assert not (strong & ~covered).any(), "ink outside every box (a cut-off stress mark?)"


def test_a_struck_out_word_is_ink_but_no_word() -> None:
    struck = [c for c in (card(s) for s in range(40)) if c.struck]
    assert struck, "some cards cross a word out"
    for c in struck:
        assert all(STRUCK not in w.text for w in c.words)
        dark = darkness(c.image)
        for x1, y1, x2, y2 in c.struck:
            assert (dark[y1:y2, x1:x2] > 100).any(), "the crossed-out word is drawn"
            assert all(_iou(w.box, (x1, y1, x2, y2)) == 0 for w in c.words), "and overlaps no word"


def test_cards_of_a_new_seed_hold_words_no_vocabulary_has() -> None:
    known = {w.strip(".,").lower() for w in _VOCABULARY_TEXT.split()}
    words = {w.text.strip(".,").lower().replace(ACUTE, "") for s in range(500, 510) for w in card(s).words}
    assert len(words - {k.replace("'", "") for k in known}) >= 10


def test_some_cards_give_an_example_in_its_own_paragraph() -> None:
    examples = [_content(None, random.Random(s)).examples for s in range(20)]
    assert sum(1 for e in examples if e) >= 5
    assert all(e[-1].endswith(".") for e in examples if e), "an example is a sentence"


def test_a_stain_tints_paper_brown_and_darker_at_its_rim() -> None:
    paper = np.full((300, 400, 3), 240.0, dtype=np.float32)
    _stain(paper, np.random.default_rng(3))
    changed = np.abs(paper - 240.0).max(axis=2) > 1
    assert 0.01 < changed.mean() < 0.9
    blue_loss = 240.0 - paper[..., 2]
    red_loss = 240.0 - paper[..., 0]
    assert (blue_loss[changed] > red_loss[changed]).all(), "brown: blue fades most"
    assert paper.min() > 150, "the text under it stays legible"


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy)


def test_rotation_moves_boxes_with_the_ink() -> None:
    c = card(2, rotation_deg=1.5, noise=False, blur=False)
    dark = darkness(c.image)
    covered = np.zeros(dark.shape, dtype=bool)
    for word in c.words:
        x1, y1, x2, y2 = word.box
        covered[y1:y2, x1:x2] = True
        assert dark[y1:y2, x1:x2].max() > 100
    assert not ((dark > 100) & ~covered).any()


def test_klee_one_is_usable_and_tofu_fonts_are_not() -> None:
    if not KLEE.is_file():
        pytest.skip("Klee One not installed")
    assert KLEE in usable_fonts()
    c = render_card(3, font_paths=[KLEE])
    assert c.font == str(KLEE)
    if DELPHINE.is_file():
        assert usable_fonts([DELPHINE]) == ()  # its Cyrillic is all .notdef boxes
        with pytest.raises(ValueError, match="Cyrillic"):
            render_card(0, font_paths=[DELPHINE])


def test_write_cards_round_trips(tmp_path: Path) -> None:
    written = write_cards(tmp_path / "cards", 2, seed=40, n_words=12, noise=False)
    assert len(written) == 2
    truth = json.loads((tmp_path / "cards" / "ground_truth.json").read_text(encoding="utf-8"))
    assert len(truth) == 2
    for (path, c), entry in zip(written, truth, strict=True):
        assert path.is_file()
        assert path.parent == tmp_path / "cards"
        assert entry["file"] == path.name
        assert entry["text"] == c.text
        lines = [[CardWord(w["text"], tuple(w["box"]), i) for w in line] for i, line in enumerate(entry["lines"])]
        assert [tuple(line) for line in lines] == list(c.lines)
        with Image.open(path) as img:
            assert np.array_equal(np.asarray(img.convert("RGB")), np.asarray(c.image))
    assert written[0][1].words == render_card(40, n_words=12, noise=False).words
