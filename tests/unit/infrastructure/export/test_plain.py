"""Plain text: lines of NFC words."""

from __future__ import annotations

from kartoteka.application.recognition.ports.exports import ExportDocument, ExportFormats
from tests.unit.infrastructure.export.sample import WORDS, nfc


def test_plain_text_is_lines_of_nfc_words(formats: ExportFormats, card: ExportDocument) -> None:
    exporter = formats.get("txt")
    data = exporter.render(card)

    expected = "\n".join(" ".join(nfc(text) for text, *_ in line) for line in WORDS) + "\n"
    assert data == expected.encode("utf-8")
    assert "Приволжский".encode() in data  # the decomposed й arrives composed
    assert "и\u0306".encode() not in data
    assert (exporter.media_type, exporter.file_extension) == ("text/plain; charset=utf-8", ".txt")
