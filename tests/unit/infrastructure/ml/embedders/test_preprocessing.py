"""One transform from bytes to model input, whatever the file looks like."""

from __future__ import annotations

import io
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image, ImageDraw

from kartoteka.application.gallery.ports.embedding import ImageKind
from kartoteka.infrastructure.ml.embedders.preprocessing import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageRejectedError,
    Preprocessing,
    center_square,
    decode_image,
    prepare,
)

LIMIT = 10_000_000
SPEC = Preprocessing(size=32)


def encode(image: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def scene(width: int = 90, height: int = 60) -> Image.Image:
    """Asymmetric content, so that any rotation or flip shows."""
    image = Image.new("RGB", (width, height), (240, 230, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((5, 5, 30, 20), fill=(200, 20, 20))
    draw.ellipse((50, 30, 85, 55), fill=(20, 20, 200))
    draw.line((0, height - 1, width // 2, 0), fill=(0, 120, 0), width=3)
    return image


def strokes(*, transparent: bool) -> Image.Image:
    image = Image.new("RGBA" if transparent else "RGB", (64, 64), (0, 0, 0, 0) if transparent else (255, 255, 255))
    ImageDraw.Draw(image).line([(8, 8), (56, 40), (20, 56)], fill=(0, 0, 0, 255) if transparent else (0, 0, 0), width=4)
    return image


def test_exif_rotated_photo_equals_the_upright_one() -> None:
    upright = scene()
    # Stored sideways with orientation 6 ("rotate 90° clockwise to view"), as a phone camera writes it.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated_bytes = encode(stored, exif=exif.tobytes())
    assert decode_image(rotated_bytes, max_pixels=LIMIT).size == upright.size
    np.testing.assert_array_equal(
        prepare(rotated_bytes, SPEC, max_pixels=LIMIT), prepare(encode(upright), SPEC, max_pixels=LIMIT)
    )


def test_transparent_sketch_is_dark_strokes_on_white() -> None:
    decoded = np.asarray(decode_image(encode(strokes(transparent=True)), max_pixels=LIMIT))
    assert decoded[0, 0].tolist() == [255, 255, 255]  # the empty canvas is white, not black
    assert decoded[8, 8].tolist() == [0, 0, 0]  # the stroke stays black
    assert (decoded < 128).mean() < 0.2  # mostly paper
    # Exactly what the same drawing on an opaque white canvas gives.
    for kind in ImageKind:
        np.testing.assert_array_equal(
            prepare(encode(strokes(transparent=True)), SPEC, kind, max_pixels=LIMIT),
            prepare(encode(strokes(transparent=False)), SPEC, kind, max_pixels=LIMIT),
        )


@pytest.mark.parametrize(
    ("image", "fmt", "expected"),
    [
        (Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "TIFF", (255, 0, 0)),
        (Image.new("CMYK", (8, 8), (0, 0, 0, 255)), "JPEG", (0, 0, 0)),
        (Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)), "PNG", (255, 255, 255)),
        (Image.fromarray(np.full((8, 8), 32896, dtype=np.uint16)), "PNG", (128, 128, 128)),
        (Image.new("L", (8, 8), 77), "PNG", (77, 77, 77)),
        (Image.new("1", (8, 8), 1), "PNG", (255, 255, 255)),
        (Image.new("LA", (8, 8), (0, 0)), "PNG", (255, 255, 255)),
        (Image.new("LA", (8, 8), (10, 255)), "PNG", (10, 10, 10)),
    ],
)
def test_odd_modes_become_rgb(image: Image.Image, fmt: str, expected: tuple[int, int, int]) -> None:
    decoded = decode_image(encode(image, fmt), max_pixels=LIMIT)
    assert decoded.mode == "RGB"
    assert all(abs(a - b) <= 2 for a, b in zip(decoded.getpixel((4, 4)), expected, strict=True))  # type: ignore[arg-type]


def test_palette_with_a_transparent_index_is_flattened_onto_white() -> None:
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    palette.putpixel((1, 1), 1)
    decoded = decode_image(encode(palette, transparency=0), max_pixels=LIMIT)
    assert decoded.getpixel((4, 4)) == (255, 255, 255)
    assert decoded.getpixel((1, 1)) == (200, 0, 0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"just some text", "not a recognised image format"),
        (encode(scene())[:100], "corrupt or truncated"),
    ],
)
def test_non_images_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejectedError, match=reason):
        prepare(data, SPEC, max_pixels=LIMIT)


def test_oversize_images_are_rejected_before_decoding() -> None:
    with pytest.raises(ImageRejectedError, match=r"100×50 = 5000 pixels, more than the 4999 allowed"):
        prepare(encode(Image.new("RGB", (100, 50))), SPEC, max_pixels=4999)


def test_shorter_side_is_resized_then_centre_cropped() -> None:
    # Left third red, middle third green, right third blue: a 3:1 image keeps only the green middle.
    image = Image.new("RGB", (300, 100), (255, 0, 0))
    image.paste((0, 255, 0), (100, 0, 200, 100))
    image.paste((0, 0, 255), (200, 0, 300, 100))
    square = np.asarray(center_square(image, 20))
    assert square.shape == (20, 20, 3)
    assert (square[:, 2:-2] == [0, 255, 0]).all()
    tall = np.asarray(center_square(image.transpose(Image.Transpose.ROTATE_90), 20))
    assert (tall[2:-2, :] == [0, 255, 0]).all()


def test_extreme_aspect_ratios_stay_cheap() -> None:
    strip = Image.new("RGB", (20_000, 2), (10, 20, 30))
    assert center_square(strip, 224).size == (224, 224)


def test_photo_input_is_imagenet_normalised_channels_first() -> None:
    grey = encode(Image.new("RGB", (40, 40), (128, 128, 128)))
    array = prepare(grey, Preprocessing(size=16), max_pixels=LIMIT)
    assert array.shape == (3, 16, 16)
    assert array.dtype == np.float32
    expected = [(128 / 255 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    np.testing.assert_allclose(array[:, 5, 5], expected, rtol=1e-6)


def test_sketches_use_the_models_sketch_statistics_and_greyscale() -> None:
    spec = Preprocessing(size=16, sketch_mean=(0.5, 0.5, 0.5), sketch_std=(0.5, 0.5, 0.5), sketch_grayscale=True)
    red = encode(Image.new("RGB", (16, 16), (255, 0, 0)))
    white = encode(Image.new("RGB", (16, 16), (255, 255, 255)))
    np.testing.assert_allclose(prepare(white, spec, ImageKind.SKETCH, max_pixels=LIMIT), 1.0, rtol=1e-6)
    sketch = prepare(red, spec, ImageKind.SKETCH, max_pixels=LIMIT)
    assert np.ptp(sketch[:, 0, 0]) == 0  # greyscale: every channel alike
    photo = prepare(red, spec, ImageKind.PHOTO, max_pixels=LIMIT)
    assert photo[0, 0, 0] > photo[1, 0, 0]  # photos keep colour
    # A model without a sketch transform treats sketches as photos.
    np.testing.assert_array_equal(
        prepare(red, SPEC, ImageKind.SKETCH, max_pixels=LIMIT), prepare(red, SPEC, ImageKind.PHOTO, max_pixels=LIMIT)
    )


def test_channel_last_models_get_hwc() -> None:
    array = prepare(encode(scene()), Preprocessing(size=24, channels_last=True), max_pixels=LIMIT)
    assert array.shape == (24, 24, 3)
    np.testing.assert_array_equal(
        array.transpose(2, 0, 1), prepare(encode(scene()), Preprocessing(size=24), max_pixels=LIMIT)
    )


class Described:
    preprocessing: ClassVar[dict[str, object]] = {"size": 48, "mean": [0.1, 0.2, 0.3], "std": [1, 1, 1]}


class Undescribed:
    pass


def test_description_comes_from_the_embedder() -> None:
    assert Preprocessing.of(Described()) == Preprocessing(size=48, mean=(0.1, 0.2, 0.3), std=(1.0, 1.0, 1.0))
    # Sketch-Search's contract for a model that says nothing: [B,H,W,3] at 224 with ImageNet statistics.
    assert Preprocessing.of(Undescribed()) == Preprocessing(size=224, channels_last=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "size must be positive"),
        ({"std": (1.0, 0.0, 1.0)}, "std must be positive"),
        ({"mean": (0.5, 0.5)}, "one value per RGB channel"),
        ({"sketch_mean": (0.5, 0.5, 0.5)}, "go together"),
    ],
)
def test_bad_descriptions_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Preprocessing(**kwargs)  # type: ignore[arg-type]
