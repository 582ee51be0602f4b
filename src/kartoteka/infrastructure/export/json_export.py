"""JSON: the whole structured transcript, for scripts and for re-import.

The transcript keeps the shape of ``Transcript.to_dict`` (so one parser reads
the API, the CLI and this file) inside an envelope that says which card and
which revision it is. Non-ASCII is written as itself, not ``\\u`` escapes, so a
person reading the file sees the stress marks; a score a model left undefined
(NaN) becomes null, because JSON has no NaN.
"""

from __future__ import annotations

import json
import math
from typing import Any, cast

from kartoteka.application.recognition.ports.exports import ExportDocument
from kartoteka.infrastructure.export.support import PRODUCER, nfc, producer_version, utc

FORMAT_NAME = "kartoteka.transcript"
FORMAT_VERSION = 1


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


def transcript_document(document: ExportDocument) -> dict[str, Any]:
    """The JSON-ready envelope; public so the API can embed the same structure in a response."""
    revised_at = utc(document.revised_at).isoformat() if document.revised_at else None
    envelope: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "producer": {"name": PRODUCER, "version": producer_version()},
        "task_id": str(document.task_id),
        "created_at": utc(document.created_at).isoformat(),
        "image": {
            "filename": document.image_filename,
            "media_type": document.image_media_type,
            "width": document.image_width,
            "height": document.image_height,
        },
        "revision": {
            "number": document.revision,
            "author": document.revised_by,
            "created_at": revised_at,
        },
        "transcript": document.transcript.to_dict(),
    }
    return cast("dict[str, Any]", _clean(envelope))


class JsonExporter:
    media_type: str = "application/json"
    file_extension: str = ".json"

    def render(self, document: ExportDocument) -> bytes:
        text = json.dumps(transcript_document(document), ensure_ascii=False, indent=2, allow_nan=False)
        return (text + "\n").encode("utf-8")
