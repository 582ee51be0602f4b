"""Plain text: what a linguist pastes into a dictionary entry.

Words by spaces, lines by newlines (the ``text`` the ``/task/*`` clients read), in UTF-8
and NFC, so the stress marks arrive as the same code points the JSON and XML
exports carry. A trailing newline ends a non-empty file, as text tools expect.
"""

from __future__ import annotations

from kartoteka.application.recognition.ports.exports import ExportDocument
from kartoteka.infrastructure.export.support import nfc


class PlainTextExporter:
    media_type: str = "text/plain; charset=utf-8"
    file_extension: str = ".txt"

    def render(self, document: ExportDocument) -> bytes:
        text = nfc(document.transcript.text)
        return (text + "\n").encode("utf-8") if text else b""
