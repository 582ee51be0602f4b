"""The export formats the OpenAPI schema lists are the ones the api's container can write."""

from __future__ import annotations

from kartoteka.infrastructure.export.registry import default_export_formats
from kartoteka.presentation.http.schemas import EXPORT_FORMATS


def test_the_schema_lists_every_format_the_exporters_write_and_no_other() -> None:
    assert sorted(EXPORT_FORMATS) == sorted(default_export_formats().names)
