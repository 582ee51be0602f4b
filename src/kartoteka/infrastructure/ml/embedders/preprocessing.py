"""Image bytes to model input, one transform per model for the gallery and the queries alike.

Gallery images and queries must reach the model on the same scale, with the
model's normalisation, center-cropped rather than squashed, and a transparent
sketch flattened onto white (not black strokes on black). Any difference
between the two sides breaks retrieval silently, so there is a single path
from bytes to tensor, described by the model (`Preprocessing`) and applied
identically whichever side of the search an image is on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from kartoteka.application.gallery.ports.embedding import ImageKind
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.infrastructure.ml.images import decode_card

Triple = tuple[float, float, float]

# Part of every model version: bump it when a change here alters what any model sees.
TRANSFORM_VERSION = 1

IMAGENET_MEAN: Triple = (0.485, 0.456, 0.406)
IMAGENET_STD: Triple = (0.229, 0.224, 0.225)
HALF: Triple = (0.5, 0.5, 0.5)


def triple(values: Sequence[float]) -> Triple:
    """Per-channel statistics from any sequence (YAML gives lists), checked to be three numbers."""
    if len(values) != 3:
        raise ValueError(f"need one value per RGB channel, got {list(values)!r}")
    return (float(values[0]), float(values[1]), float(values[2]))


class ImageRejectedError(ValueError):
    """An input the encoder cannot use; the message is the reason given back for that item."""


@dataclass(frozen=True, slots=True)
class Preprocessing:
    """What a model expects: square input size, normalisation, and the sketch variant if it has one.

    ``sketch_mean``/``sketch_std`` apply to ``ImageKind.SKETCH`` inputs (Sketch-Search's
    released model was trained on greyscale strokes normalised with 0.5/0.5, hence
    ``sketch_grayscale``). ``channels_last`` hands the model [B,H,W,3] instead of
    [B,3,H,W], for embedders written to Sketch-Search's contract (docs/contracts.md).
    """

    size: int = 224
    mean: Triple = IMAGENET_MEAN
    std: Triple = IMAGENET_STD
    sketch_mean: Triple | None = None
    sketch_std: Triple | None = None
    sketch_grayscale: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"preprocessing size must be positive, got {self.size}")
        for name in ("mean", "std", "sketch_mean", "sketch_std"):
            value = getattr(self, name)
            if value is not None and len(value) != 3:
                raise ValueError(f"preprocessing {name} needs one value per RGB channel, got {value!r}")
        for std in (self.std, self.sketch_std):
            if std is not None and min(std) <= 0:
                raise ValueError(f"preprocessing std must be positive, got {std!r}")
        if (self.sketch_mean is None) != (self.sketch_std is None):
            raise ValueError("preprocessing sketch_mean and sketch_std go together")

    def statistics(self, kind: ImageKind) -> tuple[Triple, Triple]:
        if kind is ImageKind.SKETCH and self.sketch_mean is not None and self.sketch_std is not None:
            return self.sketch_mean, self.sketch_std
        return self.mean, self.std

    def grayscale(self, kind: ImageKind) -> bool:
        return kind is ImageKind.SKETCH and self.sketch_grayscale

    @classmethod
    def of(cls, embedder: object) -> Preprocessing:
        """The embedder's own description, or Sketch-Search's contract for one that has none.

        A foreign embedder may describe itself with a plain mapping so that it
        need not import Kartoteka. One that says nothing was written for
        Sketch-Search, whose ``embed`` takes [B,H,W,3]: it gets that layout at
        224 pixels with the ImageNet statistics its backbones were trained with.
        """
        described = getattr(embedder, "preprocessing", None)
        if described is None:
            return cls(channels_last=True)
        if isinstance(described, Preprocessing):
            return described
        if isinstance(described, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = set(described) - known
            if unknown:
                raise ValueError(f"unknown preprocessing keys {sorted(unknown)}; known: {sorted(known)}")
            values: dict[str, Any] = {
                k: triple(v) if k.endswith(("mean", "std")) and v is not None else v for k, v in described.items()
            }
            return cls(**values)
        raise TypeError(f"preprocessing must be a Preprocessing or a mapping, not {type(described).__name__}")


def decode_image(data: bytes, *, max_pixels: int) -> Image.Image:
    """Upright 8-bit RGB with transparency flattened onto white, or ImageRejectedError with the reason.

    Shares the card decoder: the same EXIF, 16-bit, CMYK, palette and
    decompression-bomb handling serves scans and gallery images.
    """
    try:
        return decode_card(data, max_pixels=max_pixels)
    except UnreadableImageError as exc:
        raise ImageRejectedError(str(exc)) from None


def center_square(image: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to ``size`` (bicubic) and keep the centred square.

    Computed as one resize of the source region that survives the crop, which
    is the same geometry as resize-then-crop but never materialises a huge
    intermediate for a panorama or a 1-pixel-tall strip.
    """
    width, height = image.size
    scale = size / min(width, height)
    # Same rounding as torchvision's Resize (long side truncated) and CenterCrop (offset rounded).
    resized_w = size if width <= height else int(width * scale)
    resized_h = size if height <= width else int(height * scale)
    left = round((resized_w - size) / 2)
    top = round((resized_h - size) / 2)
    box = (left / scale, top / scale, (left + size) / scale, (top + size) / scale)
    return image.resize((size, size), Image.Resampling.BICUBIC, box=box)


def to_model_input(image: Image.Image, spec: Preprocessing, kind: ImageKind = ImageKind.PHOTO) -> NDArray[np.float32]:
    """A decoded RGB image as one normalised float32 array, [3,H,W] (or [H,W,3] for channel-last models)."""
    square = center_square(image, spec.size)
    if spec.grayscale(kind):
        square = square.convert("L").convert("RGB")
    mean, std = spec.statistics(kind)
    pixels: NDArray[np.float32] = np.asarray(square, dtype=np.float32) * np.float32(1.0 / 255.0)
    pixels -= np.asarray(mean, dtype=np.float32)
    pixels /= np.asarray(std, dtype=np.float32)
    if not spec.channels_last:
        pixels = pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels, dtype=np.float32)


def prepare(
    data: bytes, spec: Preprocessing, kind: ImageKind = ImageKind.PHOTO, *, max_pixels: int
) -> NDArray[np.float32]:
    """Bytes to one model input; ImageRejectedError (with the reason) for anything unusable."""
    image = decode_image(data, max_pixels=max_pixels)
    try:
        return to_model_input(image, spec, kind)
    except (OSError, ValueError) as exc:
        raise ImageRejectedError(f"image could not be resized: {exc}") from None
