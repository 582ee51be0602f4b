"""Boxes: ordered, finite corners; clipping and scaling."""

from __future__ import annotations

import pytest

from kartoteka.domain.recognition.geometry import Box


def test_box_rejects_unordered_and_non_finite_corners() -> None:
    with pytest.raises(ValueError, match="ordered"):
        Box(10, 0, 5, 10)
    with pytest.raises(ValueError, match="non-finite"):
        Box(0, 0, float("nan"), 10)
    assert Box.from_corners(10, 20, 0, 5) == Box(0, 5, 10, 20)


def test_clip_and_scale() -> None:
    assert Box(-5, -5, 50, 50).clip(20, 30) == Box(0, 0, 20, 30)
    assert Box(30, 0, 40, 10).clip(20, 30) is None
    assert Box(1, 2, 3, 4).scaled(2, 0.5) == Box(2, 1, 6, 2)
