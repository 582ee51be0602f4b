"""The export ports: formats looked up by name, and what a bundled card must carry."""

from __future__ import annotations

import pytest

from kartoteka.application.recognition.ports.exports import ExportFormats, UnknownExportFormatError
from kartoteka.infrastructure.export.registry import default_export_formats
from tests.unit.infrastructure.export.sample import bundled


@pytest.fixture(scope="module")
def formats() -> ExportFormats:
    return default_export_formats()


def test_unknown_format_is_a_clear_error_and_names_are_case_insensitive(formats: ExportFormats) -> None:
    assert formats.names == ("txt", "json", "page", "alto")
    assert formats.get(" PAGE ") is formats.get("page")
    assert "Alto" in formats
    assert "docx" not in formats
    with pytest.raises(
        UnknownExportFormatError, match=r"unknown export format 'docx'; choose one of: txt, json, page, alto"
    ):
        formats.get("docx")


def test_a_bundled_card_has_content_or_a_reason() -> None:
    with pytest.raises(ValueError, match="either content or a reason"):
        bundled(1, "a.jpg", None)
    with pytest.raises(ValueError, match="either content or a reason"):
        bundled(1, "a.jpg", b"x", reason="both")
