"""What every export format agrees on: canonical text, escaping, empty transcripts, whole-pixel
rectangles and the page's size.
"""

from __future__ import annotations

import json

import pytest
from lxml import etree

from kartoteka.application.recognition.ports.exports import ExportDocument, ExportFormats
from tests.unit.infrastructure.export.sample import (
    ALTO_NS,
    HEIGHT,
    PAGE_NS,
    WIDTH,
    WORDS,
    child,
    make_document,
    make_transcript,
    nfc,
    parse_valid,
)


@pytest.mark.parametrize("fmt", ["txt", "json", "page", "alto"])
def test_stress_marks_survive_byte_for_byte(
    fmt: str, formats: ExportFormats, card: ExportDocument, schemas: dict[str, etree.XMLSchema]
) -> None:
    data = formats.get(fmt).render(card)
    if fmt in schemas:
        parse_valid(schemas, fmt, data)
    for line in WORDS:
        for text, *_ in line:
            if set(text) & set('<&">'):
                continue  # escaped differently by each format; checked through the parsed documents
            assert nfc(text).encode("utf-8") in data, text
    for mark in ("\u0301", "\u0302", "\u0304", "\u0306", "\u0311", "\u203f"):
        assert mark.encode("utf-8") in data
    assert "и\u0306".encode() not in data  # composed to й, as NFC demands
    assert data.decode("utf-8") == nfc(data.decode("utf-8"))


def test_xml_special_characters_are_escaped(
    formats: ExportFormats, card: ExportDocument, schemas: dict[str, etree.XMLSchema]
) -> None:
    page = formats.get("page").render(card)
    alto = formats.get("alto").render(card)
    assert b"&lt;\xd0\xb1&amp;\xd1\x80" in page  # "<б&р" as text
    assert 'CONTENT="&lt;б&amp;р&quot;&gt;"'.encode() in alto
    page_root = parse_valid(schemas, "page", page)
    alto_root = parse_valid(schemas, "alto", alto)
    assert '<б&р">' in page_root.xpath("//pc:Word/pc:TextEquiv/pc:Unicode/text()", namespaces=PAGE_NS)
    assert '<б&р">' in alto_root.xpath("//a:String/@CONTENT", namespaces=ALTO_NS)


@pytest.mark.parametrize("fmt", ["txt", "json", "page", "alto"])
def test_empty_transcript_still_exports(
    fmt: str, formats: ExportFormats, empty_card: ExportDocument, schemas: dict[str, etree.XMLSchema]
) -> None:
    data = formats.get(fmt).render(empty_card)
    if fmt == "txt":
        assert data == b""
    elif fmt == "json":
        doc = json.loads(data)
        assert doc["transcript"]["lines"] == []
        assert doc["revision"] == {"number": 0, "author": None, "created_at": None}
    elif fmt == "page":
        root = parse_valid(schemas, "page", data)
        assert root.findall(".//pc:TextLine", PAGE_NS) == []
        region = root.find("pc:Page/pc:TextRegion", PAGE_NS)
        assert region is not None
        assert child(region, "pc:Coords", PAGE_NS).get("points") == "0,0 1200,0 1200,800 0,800"
        assert root.findtext("pc:Metadata/pc:LastChange", namespaces=PAGE_NS) == "2024-03-05T09:30:15Z"
    else:
        root = parse_valid(schemas, "alto", data)
        assert root.findall(".//a:TextLine", ALTO_NS) == []
        assert root.xpath("//a:Processing[a:processingCategory='contentModification']", namespaces=ALTO_NS) == []


def test_boxes_are_rounded_outwards_and_clipped_to_the_card(
    formats: ExportFormats, schemas: dict[str, etree.XMLSchema]
) -> None:
    """Detector boxes are fractional and can poke past the edge; PAGE needs whole pixels inside the page."""
    transcript = make_transcript([[("край", (-4.5, 10.2, 1210.0, 20.9), float("nan"), 1.3)], []])
    card = make_document(transcript)

    page = parse_valid(schemas, "page", formats.get("page").render(card))
    coords = page.find(".//pc:Word/pc:Coords", PAGE_NS)
    assert coords is not None
    assert coords.get("points") == "0,10 1200,10 1200,21 0,21"
    assert coords.get("conf") is None  # no usable detection score
    assert child(page, ".//pc:Word/pc:TextEquiv", PAGE_NS).get("conf") == "1"
    assert len(page.findall(".//pc:TextLine", PAGE_NS)) == 1  # the line without words has no box to write

    alto = parse_valid(schemas, "alto", formats.get("alto").render(card))
    string = alto.find(".//a:String", ALTO_NS)
    assert string is not None
    assert [string.get(key) for key in ("HPOS", "VPOS", "WIDTH", "HEIGHT", "WC")] == ["0", "10", "1200", "11", "1"]

    doc = json.loads(formats.get("json").render(card))
    assert doc["transcript"]["lines"][0]["words"][0]["detection_confidence"] is None


def test_layout_uses_the_transcript_pixels_when_the_stored_size_is_pre_rotation(
    formats: ExportFormats, card: ExportDocument, schemas: dict[str, etree.XMLSchema]
) -> None:
    """A phone JPEG with EXIF rotation is stored as 800×1200 but read (and boxed) upright as 1200×800."""
    rotated = make_document(card.transcript, image_width=HEIGHT, image_height=WIDTH)
    page = parse_valid(schemas, "page", formats.get("page").render(rotated)).find("pc:Page", PAGE_NS)
    assert page is not None
    assert (page.get("imageWidth"), page.get("imageHeight")) == ("1200", "800")
    assert json.loads(formats.get("json").render(rotated))["image"]["width"] == HEIGHT
