"""JSON: boxes, confidences, models, the revision and the task."""

from __future__ import annotations

import json

from kartoteka.application.recognition.ports.exports import ExportDocument, ExportFormats
from kartoteka.domain.recognition.transcript import Transcript
from tests.unit.infrastructure.export.sample import HEIGHT, TASK_ID, WIDTH, WORDS, nfc


def test_json_carries_boxes_confidences_models_revision_and_task(formats: ExportFormats, card: ExportDocument) -> None:
    exporter = formats.get("json")
    data = exporter.render(card)
    doc = json.loads(data)

    assert exporter.media_type == "application/json"
    assert doc["task_id"] == str(TASK_ID)
    assert doc["created_at"] == "2024-03-05T09:30:15+00:00"
    assert doc["revision"] == {"number": 2, "author": "Ива́нова & Co <ed>", "created_at": "2024-03-06T11:00:00+00:00"}
    assert doc["image"] == {
        "filename": "Ящик 12/карточка №7.jpg",
        "media_type": "image/jpeg",
        "width": WIDTH,
        "height": HEIGHT,
    }
    transcript = doc["transcript"]
    assert [m["name"] for m in transcript["models"]] == [
        "Daniil-Domino/yolo11x-dialectic",
        "CherryJam/trocr-base-ru-dialectic-stackmix-onnx",
    ]
    assert transcript["models"][0]["revision"] == "3f2a9c1"
    assert transcript["models"][1]["backend"] == "onnx"
    for line, expected_line in zip(transcript["lines"], WORDS, strict=True):
        for word, (text, box, det, rec) in zip(line["words"], expected_line, strict=True):
            assert word == {
                "text": nfc(text),
                "box": list(box),
                "detection_confidence": det,
                "recognition_confidence": rec,
            }
    # The envelope's transcript reads back through the domain's own parser.
    assert Transcript.from_dict(transcript).text == nfc(card.transcript.text)
    # Written as UTF-8, not \u escapes, so the marks are there byte for byte.
    assert "Ба́тюшка,".encode() in data
