"""PAGE XML: valid, with boxes, confidences, text and optional baselines."""

from __future__ import annotations

import pytest
from lxml import etree

from kartoteka.application.recognition.ports.exports import ExportDocument, ExportFormats
from kartoteka.infrastructure.export.registry import default_export_formats
from tests.unit.infrastructure.export.sample import PAGE_NS, TASK_ID, WORDS, child, nfc, parse_valid


def test_page_xml_is_valid_and_keeps_boxes_confidences_and_text(
    formats: ExportFormats, card: ExportDocument, schemas: dict[str, etree.XMLSchema]
) -> None:
    exporter = formats.get("page")
    root = parse_valid(schemas, "page", exporter.render(card))
    assert (exporter.media_type, exporter.file_extension) == ("application/xml", ".page.xml")

    creator = root.findtext("pc:Metadata/pc:Creator", namespaces=PAGE_NS)
    assert creator is not None
    assert "Kartoteka" in creator
    assert "Daniil-Domino/yolo11x-dialectic" in creator
    assert "CherryJam/trocr-base-ru-dialectic-stackmix-onnx" in creator
    assert root.findtext("pc:Metadata/pc:Created", namespaces=PAGE_NS) == "2024-03-05T09:30:15Z"
    assert root.findtext("pc:Metadata/pc:LastChange", namespaces=PAGE_NS) == "2024-03-06T11:00:00Z"
    items = {item.get("name"): item for item in root.iterfind("pc:Metadata/pc:MetadataItem", PAGE_NS)}
    assert items["taskId"].get("value") == str(TASK_ID)
    assert items["revision"].get("value") == "2"
    assert items["revisedBy"].get("value") == "Ива́нова & Co <ed>"
    assert items["detector"].get("value") == "Daniil-Domino/yolo11x-dialectic"

    page = root.find("pc:Page", PAGE_NS)
    assert page is not None
    assert (page.get("imageFilename"), page.get("imageWidth"), page.get("imageHeight")) == (
        "Ящик 12/карточка №7.jpg",
        "1200",
        "800",
    )
    regions = page.findall("pc:TextRegion", PAGE_NS)
    assert len(regions) == 1
    region = regions[0]
    assert child(region, "pc:Coords", PAGE_NS).get("points") == "40,30 450,30 450,350 40,350"
    lines = region.findall("pc:TextLine", PAGE_NS)
    assert len(lines) == len(WORDS)
    for line, expected_line in zip(lines, WORDS, strict=True):
        words = line.findall("pc:Word", PAGE_NS)
        assert len(words) == len(expected_line)
        for word, (text, (x1, y1, x2, y2), det, rec) in zip(words, expected_line, strict=True):
            coords = word.find("pc:Coords", PAGE_NS)
            assert coords is not None
            assert coords.get("points") == f"{x1:g},{y1:g} {x2:g},{y1:g} {x2:g},{y2:g} {x1:g},{y2:g}"
            assert float(coords.get("conf", "nan")) == pytest.approx(det)
            equiv = word.find("pc:TextEquiv", PAGE_NS)
            assert equiv is not None
            assert float(equiv.get("conf", "nan")) == pytest.approx(rec)
            assert equiv.findtext("pc:Unicode", namespaces=PAGE_NS) == nfc(text)
        line_text = " ".join(nfc(text) for text, *_ in expected_line)
        assert line.findtext("pc:TextEquiv/pc:Unicode", namespaces=PAGE_NS) == line_text
    region_text = region.findtext("pc:TextEquiv/pc:Unicode", namespaces=PAGE_NS)
    assert region_text == "\n".join(" ".join(nfc(t) for t, *_ in line) for line in WORDS)

    ids = [element.get("id") for element in root.iter() if element.get("id") is not None]
    assert len(ids) == len(set(ids)) == 1 + 1 + len(WORDS) + sum(len(line) for line in WORDS)  # order, region, …


def test_page_xml_baselines_are_optional_and_valid(card: ExportDocument, schemas: dict[str, etree.XMLSchema]) -> None:
    root = parse_valid(schemas, "page", default_export_formats(page_baselines=True).get("page").render(card))
    baselines = [b.get("points") for b in root.iterfind(".//pc:TextLine/pc:Baseline", PAGE_NS)]
    assert baselines[0] == "40,90 330,90"  # along the bottom of the first line's box
    assert len(baselines) == len(WORDS)
