"""Retrieval quality of the real EfficientNet-Lite0, through the same encoder the service uses.

Measured on this machine: LASA leave-one-out top-1 1.00 and mAP 0.998;
photos against augmented re-uploads top-1 1.00. The floors below leave room
for numerical noise across CPUs and GPUs, not for a preprocessing mistake,
which drops these numbers far more (a black-on-black sketch, or 0-255 input).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from kartoteka.application.gallery.ports.embedding import Embedded, EmbeddingModelId, EmbeddingOutcome, ImageKind
from kartoteka.infrastructure.ml.embedders.efficientnet import EfficientNetLite0Embedder
from kartoteka.infrastructure.ml.embedders.encoder import RegistryImageEncoder
from kartoteka.infrastructure.ml.embedders.preprocessing import prepare
from kartoteka_dev.retrieval_eval import augment, leave_one_out, query_gallery, rank, sample_photos
from kartoteka_dev.tiny_embedders import Sketch, lasa_shapes, png_bytes


@pytest.fixture(scope="module")
def encoder(lite0: EfficientNetLite0Embedder) -> Iterator[RegistryImageEncoder]:
    enc = RegistryImageEncoder(lite0, EmbeddingModelId("efficientnet_lite0", "test"), batch_size=32, max_pixels=10**8)
    yield enc
    enc.close()


def vectors(outcomes: Sequence[EmbeddingOutcome]) -> NDArray[np.float64]:
    embedded = [o for o in outcomes if isinstance(o, Embedded)]
    assert len(embedded) == len(outcomes), [o for o in outcomes if not isinstance(o, Embedded)]
    return np.array([o.vector for o in embedded], dtype=np.float64)


async def test_lasa_sketches_find_their_own_shape(encoder: RegistryImageEncoder, lasa: list[Sketch]) -> None:
    assert len(lasa_shapes()) == 26
    assert len(lasa) == 26 * 7
    embedded = vectors(await encoder.embed_images([s.png for s in lasa], ImageKind.SKETCH))
    scores = leave_one_out(embedded, [s.label for s in lasa])
    assert scores.queries == 182
    assert scores.top1 >= 0.95, scores
    assert scores.mean_average_precision >= 0.9, scores


async def test_photos_are_found_from_augmented_copies(encoder: RegistryImageEncoder) -> None:
    photos = sample_photos()
    gallery_bytes = [png_bytes(p) for p in photos.values()]
    query_bytes = [augment(p, seed) for seed in (1, 2) for p in photos.values()]
    query_labels = [name for _ in (1, 2) for name in photos]

    gallery = vectors(await encoder.embed_images(gallery_bytes))
    queries = vectors(await encoder.embed_images(query_bytes))
    scores = query_gallery(queries, query_labels, gallery, list(photos))
    assert scores.queries == 2 * len(photos) == 42
    assert scores.top1 == 1.0, scores

    # The model alone, fed the same preprocessing by hand, ranks exactly as the encoder does;
    # the whole service will be held to the same rankings.
    spec = encoder.preprocessing
    first = len(photos)  # the first round of queries is enough to compare rankings
    alone_gallery = encoder.embedder.embed(np.stack([prepare(b, spec, max_pixels=10**8) for b in gallery_bytes]))
    alone_queries = encoder.embedder.embed(np.stack([prepare(b, spec, max_pixels=10**8) for b in query_bytes[:first]]))
    np.testing.assert_array_equal(rank(alone_queries, alone_gallery)[:, :5], rank(queries[:first], gallery)[:, :5])
