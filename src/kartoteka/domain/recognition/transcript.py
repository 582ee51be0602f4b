"""The structured result of reading one card.

Linguists correct and export words, not strings: each word keeps its box in
the scan's own pixels and both confidences, and the transcript remembers
which models produced it so a re-run with newer models is distinguishable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kartoteka.domain.recognition.geometry import Box


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """Which model produced a result: its role, the name it was loaded by, and a revision."""

    role: str
    name: str
    revision: str = ""
    backend: str = ""


@dataclass(frozen=True, slots=True)
class TranscriptWord:
    text: str
    box: Box
    detection_confidence: float
    recognition_confidence: float


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    words: tuple[TranscriptWord, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words if w.text)

    @property
    def box(self) -> Box | None:
        if not self.words:
            return None
        box = self.words[0].box
        for word in self.words[1:]:
            box = box.union(word.box)
        return box


@dataclass(frozen=True, slots=True)
class Transcript:
    """Lines top to bottom, words left to right, in original card pixels."""

    width: int
    height: int
    lines: tuple[TranscriptLine, ...]
    models: tuple[ModelIdentity, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        """The plain form: words by spaces, lines by newlines (the ``/task/*`` clients' ``text``)."""
        return "\n".join(line.text for line in self.lines if line.text)

    @property
    def words(self) -> Sequence[TranscriptWord]:
        return [w for line in self.lines for w in line.words]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form shared by the CLI, the API and exports."""
        return {
            "width": self.width,
            "height": self.height,
            "text": self.text,
            "lines": [
                {
                    "text": line.text,
                    "words": [
                        {
                            "text": w.text,
                            "box": list(w.box.as_tuple()),
                            "detection_confidence": w.detection_confidence,
                            "recognition_confidence": w.recognition_confidence,
                        }
                        for w in line.words
                    ],
                }
                for line in self.lines
            ],
            "models": [
                {"role": m.role, "name": m.name, "revision": m.revision, "backend": m.backend} for m in self.models
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            width=int(data["width"]),
            height=int(data["height"]),
            lines=tuple(
                TranscriptLine(
                    words=tuple(
                        TranscriptWord(
                            text=str(w["text"]),
                            box=Box(*(float(v) for v in w["box"])),
                            detection_confidence=float(w["detection_confidence"]),
                            recognition_confidence=float(w["recognition_confidence"]),
                        )
                        for w in line["words"]
                    )
                )
                for line in data["lines"]
            ),
            models=tuple(
                ModelIdentity(
                    role=str(m["role"]),
                    name=str(m["name"]),
                    revision=str(m.get("revision", "")),
                    backend=str(m.get("backend", "")),
                )
                for m in data.get("models", [])
            ),
        )
