"""Models that cannot be had (a start-up error of whichever process needs them), and which ones are here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The reference of a model whose weights come inside its Python package: nothing to fetch.
BUNDLED = "(bundled with its Python package)"


@dataclass(frozen=True, slots=True)
class ConfiguredModel:
    role: str  # detector, recognizer, recognizer-onnx, embedder:<key>
    reference: str  # as configured: a path, a hub id, or BUNDLED


@dataclass(frozen=True, slots=True)
class ModelPresence:
    """Whether a configured model is on this machine, where, and which weights those are."""

    model: ConfiguredModel
    path: Path | None
    identity: str | None
    problem: str | None

    @property
    def present(self) -> bool:
        return self.path is not None or self.model.reference == BUNDLED


class ModelUnavailableError(Exception):
    """A configured model cannot be found or loaded; names the path or hub id."""
