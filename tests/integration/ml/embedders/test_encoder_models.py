"""RegistryImageEncoder over real models: one image, one vector, whichever side of a search it is on."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from kartoteka.application.gallery.ports.embedding import Embedded, EmbeddingModelId, EmbeddingOutcome, ImageKind
from kartoteka.infrastructure.config.embedders import EmbedderEntry, EmbedderRegistrySettings
from kartoteka.infrastructure.ml.embedders.efficientnet import EfficientNetLite0Embedder
from kartoteka.infrastructure.ml.embedders.encoder import RegistryImageEncoder, load_image_encoder
from kartoteka.infrastructure.ml.embedders.preprocessing import prepare
from kartoteka.infrastructure.ml.embedders.registry import EmbedderRegistry
from kartoteka_dev.retrieval_eval import augment, sample_photos
from kartoteka_dev.tiny_embedders import lasa_trajectories, png_bytes, render_trajectory
from tests.integration.ml.embedders.conftest import CPU


@pytest.fixture
def encoder(lite0: EfficientNetLite0Embedder) -> Iterator[RegistryImageEncoder]:
    enc = RegistryImageEncoder(lite0, EmbeddingModelId("efficientnet_lite0", "test"), batch_size=8, max_pixels=10**8)
    yield enc
    enc.close()


def vectors(outcomes: Sequence[EmbeddingOutcome]) -> NDArray[np.float64]:
    embedded = [o for o in outcomes if isinstance(o, Embedded)]
    assert len(embedded) == len(outcomes), [o for o in outcomes if not isinstance(o, Embedded)]
    return np.array([o.vector for o in embedded], dtype=np.float64)


async def test_gallery_item_and_query_embed_to_the_same_vector(encoder: RegistryImageEncoder) -> None:
    photos = sample_photos(["astronaut", "coffee", "rocket", "camera", "logo"])
    items = [png_bytes(p) for p in photos.values()] + [augment(p, seed=3) for p in photos.values()]
    gallery = vectors(await encoder.embed_images(items))  # two batches: 8 + 2
    for i, data in enumerate(items):
        query = vectors(await encoder.embed_images([data]))
        np.testing.assert_allclose(query[0], gallery[i], atol=1e-5)


async def test_a_sketch_on_a_transparent_canvas_embeds_like_one_on_white(encoder: RegistryImageEncoder) -> None:
    trajectory = lasa_trajectories("GShape")[0]
    transparent = png_bytes(render_trajectory(trajectory, transparent=True))
    white = png_bytes(render_trajectory(trajectory, transparent=False))
    black = io.BytesIO()
    Image.open(io.BytesIO(transparent)).convert("RGB").save(black, format="PNG")  # Sketch-Search's black-on-black
    got = vectors(await encoder.embed_images([transparent, white, black.getvalue()], ImageKind.SKETCH))
    np.testing.assert_allclose(got[0], got[1], atol=1e-6)
    assert float(got[0] @ got[2]) < 0.9  # the reference's conversion would be a different image


async def test_text_search_through_an_open_clip_encoder(tiny_open_clip: Path, tmp_path: Path) -> None:
    settings = EmbedderRegistrySettings(
        chosen_embedder="clip",
        embedders={
            "clip": EmbedderEntry(
                target="kartoteka.infrastructure.ml.embedders.clip.OpenClipEmbedder",
                kwargs={"model_name": str(tiny_open_clip)},
            )
        },
        digest_cache=str(tmp_path / "digests.json"),
    )
    registry = EmbedderRegistry(settings, device=CPU)
    encoder = await load_image_encoder(registry)
    try:
        assert encoder.model == EmbeddingModelId("clip", registry.version_of("clip"))
        assert (encoder.dimension, encoder.supports_text) == (32, True)
        text = await encoder.embed_text("a sketch of a house")
        assert len(text) == 32
        assert abs(np.linalg.norm(text) - 1.0) < 1e-5
        [image] = await encoder.embed_images([png_bytes(Image.new("RGB", (80, 50), (10, 200, 30)))])
        assert isinstance(image, Embedded)
        assert len(image.vector) == 32
    finally:
        encoder.close()


async def test_sketch_search_sketches_use_the_sketch_transform(tiny_sketch_search: Path, tmp_path: Path) -> None:
    settings = EmbedderRegistrySettings(
        chosen_embedder="ss",
        embedders={
            "ss": EmbedderEntry(
                target="kartoteka.infrastructure.ml.embedders.sketch_search.SketchSearchEmbedder",
                kwargs={"weights_path": str(tiny_sketch_search), "timm_backbone": "convnext_atto", "image_size": 64},
            )
        },
        digest_cache=str(tmp_path / "digests.json"),
    )
    encoder = await load_image_encoder(EmbedderRegistry(settings, device=CPU))
    try:
        drawing = png_bytes(render_trajectory(lasa_trajectories("Sine")[0], transparent=True))
        [as_sketch] = await encoder.embed_images([drawing], ImageKind.SKETCH)
        [as_photo] = await encoder.embed_images([drawing], ImageKind.PHOTO)
        assert isinstance(as_sketch, Embedded)
        assert isinstance(as_photo, Embedded)
        assert not np.allclose(as_sketch.vector, as_photo.vector, atol=1e-4)  # 0.5/0.5 against ImageNet statistics
        # The encoder applied the sketch transform the embedder declares, and called embed_sketch.
        spec = encoder.preprocessing
        assert (spec.sketch_mean, spec.sketch_grayscale) == ((0.5, 0.5, 0.5), True)
        direct = encoder.embedder.embed_sketch(prepare(drawing, spec, ImageKind.SKETCH, max_pixels=10**8)[None])
        np.testing.assert_allclose(as_sketch.vector, direct[0], atol=1e-5)
    finally:
        encoder.close()
