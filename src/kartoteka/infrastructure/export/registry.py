"""The formats Kartoteka exports, by the names the API and the CLI accept."""

from __future__ import annotations

from kartoteka.application.recognition.ports.exports import ExportFormats
from kartoteka.infrastructure.export.alto_xml import AltoXmlExporter
from kartoteka.infrastructure.export.json_export import JsonExporter
from kartoteka.infrastructure.export.page_xml import PageXmlExporter
from kartoteka.infrastructure.export.plain import PlainTextExporter


def default_export_formats(*, page_baselines: bool = False) -> ExportFormats:
    """``txt``, ``json``, ``page`` and ``alto``; the composition root builds this once per process."""
    return ExportFormats(
        {
            "txt": PlainTextExporter(),
            "json": JsonExporter(),
            "page": PageXmlExporter(with_baselines=page_baselines),
            "alto": AltoXmlExporter(),
        }
    )
