"""The export formats, the sample card (and an empty one) and the schemas, once per test module."""

from __future__ import annotations

import pytest
from lxml import etree

from kartoteka.application.recognition.ports.exports import ExportDocument, ExportFormats
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.infrastructure.export.registry import default_export_formats
from tests.schemas import load_schema
from tests.unit.infrastructure.export.sample import HEIGHT, WIDTH, WORDS, make_document, make_transcript


@pytest.fixture(scope="module")
def formats() -> ExportFormats:
    return default_export_formats()


@pytest.fixture(scope="module")
def card() -> ExportDocument:
    return make_document(make_transcript(WORDS))


@pytest.fixture(scope="module")
def empty_card() -> ExportDocument:
    return make_document(Transcript(WIDTH, HEIGHT, ()), revision=0, revised_by=None, revised_at=None)


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    return {"page": load_schema("pagecontent-2019-07-15.xsd"), "alto": load_schema("alto-4-4.xsd")}
