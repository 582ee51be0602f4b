"""Ranking and retrieval scores, on vectors small enough to check by hand."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from kartoteka_dev.retrieval_eval import augment, average_precision, leave_one_out, query_gallery, rank, sample_photos


def test_rank_orders_by_cosine_and_keeps_gallery_order_on_ties() -> None:
    gallery = [[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [1.0, 1.0]]
    assert rank([[1.0, 0.1]], gallery).tolist() == [[0, 2, 3, 1]]  # 0 and 2 tie; 0 first


def test_leave_one_out_drops_the_query_itself() -> None:
    vectors = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]
    assert rank(vectors, vectors, exclude_self=True).tolist() == [[1, 2], [0, 2], [1, 0]]
    with pytest.raises(ValueError, match="queries to be the gallery"):
        rank([[1.0, 0.0]], vectors, exclude_self=True)


def test_average_precision() -> None:
    assert average_precision(np.array([True, False, True])) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision(np.array([False, False])) == 0.0


def test_scores() -> None:
    vectors = [[1.0, 0.0], [0.95, 0.05], [0.0, 1.0], [0.1, 0.9], [0.7, 0.6]]
    labels = ["a", "a", "b", "b", "b"]
    loo = leave_one_out(vectors, labels)
    assert loo.queries == 5
    assert loo.top1 == pytest.approx(4 / 5)  # the last "b" is nearer the "a"s
    # Its ranking is a, a, b, b: AP (1/3 + 2/4) / 2; every other query is perfect.
    assert loo.mean_average_precision == pytest.approx((4 + (1 / 3 + 2 / 4) / 2) / 5)
    perfect = query_gallery([[1.0, 0.1], [0.1, 1.0]], ["a", "b"], [[1.0, 0.0], [0.0, 1.0]], ["a", "b"])
    assert (perfect.top1, perfect.mean_average_precision) == (1.0, 1.0)


def test_photo_set_and_augmentation() -> None:
    photos = sample_photos(["chelsea", "horse", "logo"])
    assert all(p.mode == "RGB" for p in photos.values())
    copy = Image.open(io.BytesIO(augment(photos["chelsea"], seed=1)))
    assert copy.format == "JPEG"
    assert copy.size != photos["chelsea"].size
    assert augment(photos["chelsea"], seed=1) == augment(photos["chelsea"], seed=1)
