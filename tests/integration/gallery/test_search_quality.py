"""Search through the whole service ranks exactly as the model alone does, with the real offline encoder.

LASA hand-drawn shapes are the gallery (drawn on white) and the queries (other demonstrations, drawn on a
transparent canvas as the web UI sends them); scikit-image photos are found from augmented copies. Nothing
between the model and the answer (preprocessing, alpha, storage, pgvector's HNSW) may change the ranking.
"""

from __future__ import annotations

import io

import numpy as np

from kartoteka.infrastructure.ml.embedders.encoder import load_image_encoder
from kartoteka.infrastructure.ml.embedders.registry import EmbedderRegistry
from kartoteka_dev.retrieval_eval import augment, sample_photos
from kartoteka_dev.tiny_embedders import lasa_sketches
from tests.integration.gallery.conftest import Gallery

SHAPES = ["Angle", "BendedLine", "CShape", "GShape", "heee", "JShape", "Khamesh", "Leaf_1", "Sshape", "Snake"]


async def model_alone(gallery: Gallery, items: list[bytes], queries: list[bytes]) -> list[list[int]]:
    """Indexes of gallery items by descending cosine similarity, for each query, from the encoder directly."""
    encoder = await load_image_encoder(EmbedderRegistry(gallery.settings.embedding))
    try:
        g = np.array([o.vector for o in await encoder.embed_images(items)])  # type: ignore[union-attr]
        q = np.array([o.vector for o in await encoder.embed_images(queries)])  # type: ignore[union-attr]
    finally:
        encoder.close()
    return [list(np.argsort(-row, kind="stable")) for row in q @ g.T]


async def test_sketch_and_photo_search_rank_as_the_model_alone(gallery: Gallery) -> None:
    drawn = [s for s in lasa_sketches(size=224, shapes=SHAPES) if s.demo < 4]
    asked = [s for s in lasa_sketches(size=224, shapes=SHAPES, transparent=True) if s.demo >= 5]
    ids = [(await gallery.upload(f"{s.label}-{s.demo}.png", s.png, "lasa"))["id"] for s in drawn]
    photos = sample_photos()
    photo_bytes = []
    for name, image in photos.items():
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        photo_bytes.append(buffer.getvalue())
        ids.append((await gallery.upload(f"{name}.png", buffer.getvalue(), "photos"))["id"])
    await gallery.indexed()

    copies = [augment(image, seed=1) for image in photos.values()]
    queries = [s.png for s in asked] + copies
    expected = await model_alone(gallery, [s.png for s in drawn] + photo_bytes, queries)

    correct = 0
    for k, query in enumerate(queries):
        response = await gallery.client.post(
            "/api/images/similarity-search",
            files={"image": ("blob", query, "image/png")},
            data={
                "top_k": "10",
                "query_json": '{"page": 1, "items_per_page": 10, "directory": null}',
                "kind": "sketch" if k < len(asked) else "photo",
            },
        )
        assert response.status_code == 200, response.text
        hits = response.json()["images"]
        assert [h["id"] for h in hits] == [ids[i] for i in expected[k][:10]], f"query {k} ranks differently"
        scores = [h["score"] for h in hits]
        assert scores == sorted(scores, reverse=True)
        if k < len(asked):
            correct += hits[0]["user_visible_name"].startswith(asked[k].label + "-")
        else:
            assert hits[0]["user_visible_name"] == f"{list(photos)[k - len(asked)]}.png"
    assert correct / len(asked) >= 0.9


async def test_an_image_searched_with_its_own_bytes_finds_itself_with_score_one(gallery: Gallery) -> None:
    sketch = lasa_sketches(size=224, shapes=["Angle"], transparent=True)[0]
    on_white = lasa_sketches(size=224, shapes=["Angle", "Leaf_1"])
    stored = await gallery.upload("angle.png", sketch.png)
    for extra in on_white[1:]:
        await gallery.upload(f"{extra.label}-{extra.demo}.png", extra.png)
    await gallery.indexed()
    response = await gallery.client.post(
        "/api/images/similarity-search",
        files={"image": ("blob", sketch.png, "image/png")},
        data={"top_k": "3", "query_json": "{}"},
    )
    best = response.json()["images"][0]
    assert best["id"] == stored["id"]
    assert best["score"] > 0.9999  # the gallery item and the query went through one and the same path
    by_id = await gallery.client.post(
        "/api/images/search-by-image/", json={"image_id": stored["id"], "top_k": 5, "query": {}}
    )
    assert by_id.json()["images"][0]["id"] == stored["id"]
    assert by_id.json()["images"][0]["score"] > 0.9999
