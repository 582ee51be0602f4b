"""The card every export test writes, and the checks of what they write.

Stress and quality marks as linguists write them, XML-special characters, two models and a
correction; every PAGE and ALTO file is validated against the published XSDs (see tests/schemas.py).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from lxml import etree

from kartoteka.application.recognition.ports.exports import BundledCard, ExportDocument
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.transcript import ModelIdentity, Transcript, TranscriptLine, TranscriptWord

PAGE_NS = {"pc": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}
ALTO_NS = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
TASK_ID = UUID("0b6f2a52-4a0e-4c2b-9d43-6f1f7d0c2a11")
CREATED = datetime(2024, 3, 5, 9, 30, 15, tzinfo=UTC)
REVISED = datetime(2024, 3, 6, 14, 0, 0, tzinfo=timezone(timedelta(hours=3)))  # 11:00 UTC

# Stress and quality marks as linguists write them; "и" + U+0306 is decomposed on purpose (NFC makes it "й").
WORDS: list[list[tuple[str, tuple[float, float, float, float], float, float]]] = [
    [("Ба\u0301тюшка,", (40, 30, 260, 90), 0.97, 0.91), ("м.", (280, 40, 330, 90), 0.88, 0.76)],
    [("Ба\u0302ть\u0304ко", (40, 120, 200, 175), 0.93, 0.64), ("на\u203fгоро\u0306", (215, 118, 400, 180), 0.9, 0.58)],
    [("Приволжскии\u0306", (40, 210, 330, 265), 0.81, 0.5), ('<б&р">', (350, 212, 450, 262), 0.7, 0.42)],
    [("Ска\u0311зка", (40, 300, 220, 350), 0.85, 0.66)],
]
WIDTH, HEIGHT = 1200, 800


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def make_transcript(words: list[list[tuple[str, tuple[float, float, float, float], float, float]]]) -> Transcript:
    return Transcript(
        width=WIDTH,
        height=HEIGHT,
        lines=tuple(
            TranscriptLine(tuple(TranscriptWord(text, Box(*box), det, rec) for text, box, det, rec in line))
            for line in words
        ),
        models=(
            ModelIdentity("detector", "Daniil-Domino/yolo11x-dialectic", "3f2a9c1", "pytorch"),
            ModelIdentity("recognizer", "CherryJam/trocr-base-ru-dialectic-stackmix-onnx", "", "onnx"),
        ),
    )


def make_document(transcript: Transcript, **overrides: Any) -> ExportDocument:
    fields: dict[str, Any] = {
        "transcript": transcript,
        "task_id": TASK_ID,
        "image_filename": "Ящик 12/карточка №7.jpg",
        "image_width": WIDTH,
        "image_height": HEIGHT,
        "image_media_type": "image/jpeg",
        "revision": 2,
        "created_at": CREATED,
        "revised_by": "Ива́нова & Co <ed>",
        "revised_at": REVISED,
    }
    fields.update(overrides)
    return ExportDocument(**fields)


def parse_valid(schemas: dict[str, etree.XMLSchema], fmt: str, data: bytes) -> etree._Element:
    """Parse an XML export and fail with the schema's own messages unless it is valid."""
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data)
    schema = schemas[fmt]
    assert schema.validate(root), "\n".join(str(error) for error in schema.error_log)
    return root


def child(element: etree._Element, path: str, namespaces: dict[str, str]) -> etree._Element:
    found = element.find(path, namespaces)
    assert found is not None, path
    return found


def bundled(
    task: int, filename: str, content: bytes | None, status: str = "completed", reason: str | None = None
) -> BundledCard:
    return BundledCard(
        task_id=UUID(int=task),
        filename=filename,
        status=status,
        revision=None if content is None else task,
        content=content,
        skipped_reason=reason,
    )
