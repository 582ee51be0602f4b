"""How well vectors retrieve: rankings, top-1 and mAP, and a photo set with augmented queries.

Kept apart from any model so that the same numbers can be computed for the
model alone and for the whole service (vectors read back from pgvector, or
the ids a search endpoint returns): equal rankings mean the service adds no
preprocessing drift of its own.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageEnhance

# scikit-image's bundled samples (``cat`` is ``chelsea`` again, so it is left out).
SAMPLE_PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


@dataclass(frozen=True, slots=True)
class RetrievalScores:
    top1: float
    mean_average_precision: float
    queries: int


def _unit_rows(vectors: Sequence[Sequence[float]] | NDArray[np.floating]) -> NDArray[np.float64]:
    matrix: NDArray[np.float64] = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    norms: NDArray[np.float64] = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: NDArray[np.float64] = matrix / np.maximum(norms, 1e-12)
    return unit


def rank(
    queries: Sequence[Sequence[float]] | NDArray[np.floating],
    gallery: Sequence[Sequence[float]] | NDArray[np.floating],
    *,
    exclude_self: bool = False,
) -> NDArray[np.int64]:
    """Gallery indices per query, most similar (cosine) first; ties keep gallery order.

    With ``exclude_self`` the queries are the gallery (leave-one-out) and each
    query's own index is left out of its ranking.
    """
    q, g = _unit_rows(queries), _unit_rows(gallery)
    similarity = q @ g.T
    if exclude_self:
        if similarity.shape[0] != similarity.shape[1]:
            raise ValueError("exclude_self needs the queries to be the gallery")
        np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1, kind="stable")
    if exclude_self:
        order = order[:, :-1]  # the query itself sorts last
    return order.astype(np.int64)


def average_precision(relevant: NDArray[np.bool_]) -> float:
    """AP over a full ranking, given which ranked items are relevant."""
    hits = np.flatnonzero(relevant)
    if hits.size == 0:
        return 0.0
    precision_at_hits = np.arange(1, hits.size + 1) / (hits + 1)
    return float(precision_at_hits.mean())


def scores(rankings: NDArray[np.int64], query_labels: Sequence[str], gallery_labels: Sequence[str]) -> RetrievalScores:
    labels = np.asarray(gallery_labels)
    top1 = []
    precisions = []
    for row, label in zip(rankings, query_labels, strict=True):
        relevant = labels[row] == label
        top1.append(bool(relevant[0]))
        precisions.append(average_precision(relevant))
    return RetrievalScores(
        top1=float(np.mean(top1)), mean_average_precision=float(np.mean(precisions)), queries=len(top1)
    )


def leave_one_out(vectors: Sequence[Sequence[float]] | NDArray[np.floating], labels: Sequence[str]) -> RetrievalScores:
    """Each item queries all the others; relevant = same label."""
    return scores(rank(vectors, vectors, exclude_self=True), labels, labels)


def query_gallery(
    queries: Sequence[Sequence[float]] | NDArray[np.floating],
    query_labels: Sequence[str],
    gallery: Sequence[Sequence[float]] | NDArray[np.floating],
    gallery_labels: Sequence[str],
) -> RetrievalScores:
    return scores(rank(queries, gallery), query_labels, gallery_labels)


def sample_photos(names: Sequence[str] = SAMPLE_PHOTOS) -> dict[str, Image.Image]:
    """scikit-image's bundled photos as RGB (greyscale and binary ones converted)."""
    from skimage import data

    photos = {}
    for name in names:
        array = np.asarray(getattr(data, name)())
        if array.dtype == np.bool_:
            array = array.astype(np.uint8) * 255
        image = Image.fromarray(array)
        photos[name] = image.convert("RGBA").convert("RGB") if image.mode == "RGBA" else image.convert("RGB")
    return photos


def augment(image: Image.Image, seed: int) -> bytes:
    """A plausible re-upload of ``image``: cropped, slightly rotated, colour-shifted, JPEG-compressed."""
    rng = np.random.default_rng(seed)
    width, height = image.size
    keep = rng.uniform(0.8, 0.92)
    w, h = int(width * keep), int(height * keep)
    left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    out = image.crop((left, top, left + w, top + h))
    angle = float(rng.uniform(-8.0, 8.0))
    rotated = out.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
    inset = int(min(w, h) * 0.08)  # drop the corners the rotation left empty
    out = rotated.crop((inset, inset, w - inset, h - inset))
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))
    out = ImageEnhance.Contrast(out).enhance(rng.uniform(0.8, 1.2))
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.7, 1.3))
    buffer = io.BytesIO()
    out.save(buffer, format="JPEG", quality=int(rng.integers(55, 85)))
    return buffer.getvalue()
