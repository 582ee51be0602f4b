"""RegistryImageEncoder over model-free embedders: per-item outcomes, batching, threads, output checks."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from kartoteka.application.gallery.ports.embedding import (
    Embedded,
    EmbeddingModelId,
    ImageEncoder,
    ImageKind,
    NotEmbedded,
    TextSearchUnsupportedError,
)
from kartoteka.infrastructure.config.embedders import EmbedderEntry, EmbedderRegistrySettings
from kartoteka.infrastructure.ml.embedders.encoder import EmbedderOutputError, RegistryImageEncoder, load_image_encoder
from kartoteka.infrastructure.ml.embedders.registry import EmbedderRegistry
from tests.fakes.embedders import NoDimensionEmbedder, PixelStatsEmbedder, TextEmbedder

MODEL = EmbeddingModelId(key="stats", version="v1")


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def picture(seed: int, size: tuple[int, int] = (40, 30)) -> bytes:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y = int(rng.integers(0, size[0] - 8)), int(rng.integers(0, size[1] - 8))
        draw.rectangle((x, y, x + 8, y + 8), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return png(image)


@pytest.fixture
def encoder() -> Iterator[RegistryImageEncoder]:
    enc = RegistryImageEncoder(PixelStatsEmbedder(), MODEL, batch_size=4, max_pixels=100 * 100)
    yield enc
    enc.close()


def vectors(outcomes: list[Any]) -> NDArray[np.float64]:
    assert all(isinstance(o, Embedded) for o in outcomes), outcomes
    return np.array([o.vector for o in outcomes])


def test_it_is_an_image_encoder(encoder: RegistryImageEncoder) -> None:
    port: ImageEncoder = encoder
    assert port.model == MODEL
    assert (port.dimension, port.batch_size, port.supports_text) == (18, 4, False)


async def test_bad_inputs_become_reasons_and_the_rest_is_embedded(encoder: RegistryImageEncoder) -> None:
    inputs = [picture(0), b"", b"<html>not an image</html>", png(Image.new("RGB", (200, 200))), picture(1)]
    outcomes = await encoder.embed_images(inputs)
    assert len(outcomes) == len(inputs)
    assert isinstance(outcomes[0], Embedded)
    assert isinstance(outcomes[4], Embedded)
    reasons = [o.reason for o in outcomes[1:4] if isinstance(o, NotEmbedded)]
    assert len(reasons) == 3
    assert "empty" in reasons[0]
    assert "not a recognised image format" in reasons[1]
    assert "more than the 10000 allowed" in reasons[2]
    # The good ones are what they would be alone.
    alone = await encoder.embed_images([picture(1)])
    np.testing.assert_allclose(vectors([outcomes[4]]), vectors(alone), atol=1e-6)


async def test_vectors_are_unit_length_lists_of_floats(encoder: RegistryImageEncoder) -> None:
    outcomes = await encoder.embed_images([picture(i) for i in range(3)])
    for outcome in outcomes:
        assert isinstance(outcome, Embedded)
        assert len(outcome.vector) == 18
        assert all(type(x) is float for x in outcome.vector)
        assert abs(np.linalg.norm(outcome.vector) - 1.0) < 1e-6


async def test_one_model_call_per_batch_on_the_inference_thread(encoder: RegistryImageEncoder) -> None:
    embedder: PixelStatsEmbedder = encoder.embedder
    await encoder.embed_images([picture(i) for i in range(10)])
    assert [shape[0] for _, shape, _ in embedder.calls] == [4, 4, 2]
    assert all(shape[1:] == (3, 16, 16) for _, shape, _ in embedder.calls)
    threads = {name for _, _, name in embedder.calls}
    assert len(threads) == 1
    assert threads.pop().startswith("inference-embedder-stats")
    assert threading.current_thread().name not in {name for _, _, name in embedder.calls}


async def test_a_batch_of_only_bad_inputs_never_calls_the_model(encoder: RegistryImageEncoder) -> None:
    outcomes = await encoder.embed_images([b"x", b"y"])
    assert all(isinstance(o, NotEmbedded) for o in outcomes)
    assert encoder.embedder.calls == []
    assert await encoder.embed_images([]) == []


async def test_gallery_item_and_query_get_the_same_vector(encoder: RegistryImageEncoder) -> None:
    gallery = [picture(i, size=(60 + i, 45)) for i in range(9)]
    as_gallery = vectors(await encoder.embed_images(gallery))
    for i, data in enumerate(gallery):
        as_query = vectors(await encoder.embed_images([data]))
        np.testing.assert_allclose(as_query[0], as_gallery[i], atol=1e-6)


async def test_sketches_go_through_the_sketch_branch(encoder: RegistryImageEncoder) -> None:
    embedder: PixelStatsEmbedder = encoder.embedder
    [photo] = await encoder.embed_images([picture(3)], ImageKind.PHOTO)
    [sketch] = await encoder.embed_images([picture(3)], ImageKind.SKETCH)
    assert [kind for kind, _, _ in embedder.calls] == ["photo", "sketch"]
    assert isinstance(photo, Embedded)
    assert isinstance(sketch, Embedded)
    assert photo.vector != sketch.vector  # other normalisation statistics


async def test_text_needs_a_text_tower(encoder: RegistryImageEncoder) -> None:
    with pytest.raises(TextSearchUnsupportedError, match="'stats' has no text tower"):
        await encoder.embed_text("a cat")
    with_text = RegistryImageEncoder(TextEmbedder(), MODEL, batch_size=4, max_pixels=10_000)
    try:
        assert with_text.supports_text
        vector = await with_text.embed_text("abc")
        assert len(vector) == 18
        assert vector[0] == pytest.approx(3 / np.sqrt(10))
    finally:
        with_text.close()


class Broken(PixelStatsEmbedder):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def embed(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        out = self._features(images)
        if self.mode == "nan-first":
            out[0] = np.nan
        elif self.mode == "zero-first":
            out[0] = 0.0
        elif self.mode == "wrong-dimension":
            out = out[:, :5]
        elif self.mode == "fails-on-dark" and (images.mean(axis=(1, 2, 3)) < -1.5).any():
            raise RuntimeError("cannot handle dark input")
        elif self.mode == "always-fails":
            raise RuntimeError("CUDA error: device lost")
        return out


def broken(mode: str) -> RegistryImageEncoder:
    return RegistryImageEncoder(Broken(mode), MODEL, batch_size=8, max_pixels=10_000)


@pytest.mark.parametrize(("mode", "reason"), [("nan-first", "non-finite"), ("zero-first", "zero vector")])
async def test_unusable_vectors_are_refused_per_item(mode: str, reason: str) -> None:
    enc = broken(mode)
    try:
        first, second = await enc.embed_images([picture(0), picture(1)])
        assert isinstance(first, NotEmbedded)
        assert reason in first.reason
        assert isinstance(second, Embedded)
    finally:
        enc.close()


async def test_a_model_of_the_wrong_dimension_is_an_error_not_an_input_problem() -> None:
    enc = broken("wrong-dimension")
    try:
        with pytest.raises(EmbedderOutputError, match=r"dimension 18, the model returned shape \(2, 5\)"):
            await enc.embed_images([picture(0), picture(1)])
    finally:
        enc.close()


async def test_an_input_that_trips_the_model_costs_only_its_own_vector() -> None:
    enc = broken("fails-on-dark")
    try:
        dark = png(Image.new("RGB", (20, 20), (0, 0, 0)))
        outcomes = await enc.embed_images([picture(0), dark, picture(1)])
        assert isinstance(outcomes[0], Embedded)
        assert isinstance(outcomes[1], NotEmbedded)
        assert "RuntimeError: cannot handle dark input" in outcomes[1].reason
        assert isinstance(outcomes[2], Embedded)
    finally:
        enc.close()


async def test_a_model_that_fails_on_everything_raises() -> None:
    enc = broken("always-fails")
    try:
        with pytest.raises(RuntimeError, match="device lost"):
            await enc.embed_images([picture(0), picture(1)])
    finally:
        enc.close()


def test_the_dimension_must_be_known() -> None:
    with pytest.raises(ValueError, match="does not say its dimension"):
        RegistryImageEncoder(NoDimensionEmbedder(), MODEL, batch_size=4, max_pixels=10_000)


async def test_load_image_encoder_builds_versions_and_probes_off_the_loop(tmp_path: Any) -> None:
    source = tmp_path / "plain.py"
    source.write_text(
        "import numpy as np\n"
        "class Plain:\n"
        "    def embed(self, images):\n"
        "        assert images.shape[1:] == (224, 224, 3)\n"
        "        return np.asarray(images, dtype=np.float64).mean(axis=(1, 2)) + 1.0\n",
        encoding="utf-8",
    )
    settings = EmbedderRegistrySettings(
        chosen_embedder="plain",
        embedders={"plain": EmbedderEntry(file=str(source), class_name="Plain")},
        batch_size=3,
        max_pixels=1_000_000,
        digest_cache=str(tmp_path / "d.json"),
    )
    registry = EmbedderRegistry(settings)
    enc = await load_image_encoder(registry)
    try:
        assert enc.model == EmbeddingModelId("plain", registry.version_of("plain"))
        assert (enc.dimension, enc.batch_size) == (3, 3)  # probed from a blank image
        assert enc.preprocessing.channels_last  # Sketch-Search's [B,H,W,3] contract
        [outcome] = await enc.embed_images([picture(5)])
        assert isinstance(outcome, Embedded)
    finally:
        enc.close()
