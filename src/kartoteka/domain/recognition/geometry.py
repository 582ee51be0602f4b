"""Axis-aligned boxes in original card pixels.

Every later stage (grouping, export to PAGE/ALTO, corrections) speaks in the
coordinates of the scan the linguist uploaded, so the value object refuses
nothing but NaNs and keeps its corners ordered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle ``[x1, x2] × [y1, y2]`` with ``x1 <= x2`` and ``y1 <= y2``."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if any(math.isnan(v) or math.isinf(v) for v in (self.x1, self.y1, self.x2, self.y2)):
            raise ValueError(f"box has a non-finite coordinate: {self!r}")
        if self.x1 > self.x2 or self.y1 > self.y2:
            raise ValueError(f"box corners are not ordered: {self!r}")

    @classmethod
    def from_corners(cls, xa: float, ya: float, xb: float, yb: float) -> Box:
        """Build a box from two opposite corners given in any order."""
        return cls(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def is_degenerate(self) -> bool:
        """A box with no area cannot be cropped or compared by area ratio."""
        return self.width <= 0 or self.height <= 0

    def intersection_area(self, other: Box) -> float:
        w = min(self.x2, other.x2) - max(self.x1, other.x1)
        h = min(self.y2, other.y2) - max(self.y1, other.y1)
        return w * h if w > 0 and h > 0 else 0.0

    def union(self, other: Box) -> Box:
        return Box(
            min(self.x1, other.x1),
            min(self.y1, other.y1),
            max(self.x2, other.x2),
            max(self.y2, other.y2),
        )

    def clip(self, width: float, height: float) -> Box | None:
        """The part of the box inside a ``width × height`` image, or None if nothing is left."""
        x1, y1 = max(0.0, self.x1), max(0.0, self.y1)
        x2, y2 = min(float(width), self.x2), min(float(height), self.y2)
        if x2 <= x1 or y2 <= y1:
            return None
        return Box(x1, y1, x2, y2)

    def scaled(self, sx: float, sy: float) -> Box:
        return Box(self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)
