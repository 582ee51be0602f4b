"""ALTO XML: valid, with positions, word confidence and provenance."""

from __future__ import annotations

import pytest
from lxml import etree

from kartoteka.application.recognition.ports.exports import ExportDocument, ExportFormats
from tests.unit.infrastructure.export.sample import ALTO_NS, TASK_ID, WORDS, nfc, parse_valid


def test_alto_is_valid_and_keeps_positions_word_confidence_and_provenance(
    formats: ExportFormats, card: ExportDocument, schemas: dict[str, etree.XMLSchema]
) -> None:
    exporter = formats.get("alto")
    root = parse_valid(schemas, "alto", exporter.render(card))
    assert (exporter.media_type, exporter.file_extension) == ("application/xml", ".alto.xml")

    assert root.findtext("a:Description/a:MeasurementUnit", namespaces=ALTO_NS) == "pixel"
    source = "a:Description/a:sourceImageInformation"
    assert root.findtext(f"{source}/a:fileName", namespaces=ALTO_NS) == "Ящик 12/карточка №7.jpg"
    assert root.findtext(f"{source}/a:fileIdentifier", namespaces=ALTO_NS) == str(TASK_ID)
    software = [
        (s.findtext("a:softwareName", namespaces=ALTO_NS), s.findtext("a:softwareVersion", namespaces=ALTO_NS))
        for s in root.iterfind("a:Description/a:Processing/a:processingSoftware", ALTO_NS)
    ]
    names = [name for name, _ in software]
    assert names[0] == "Kartoteka"
    assert ("Daniil-Domino/yolo11x-dialectic", "3f2a9c1") in software
    assert ("CherryJam/trocr-base-ru-dialectic-stackmix-onnx", None) in software
    settings = root.xpath("//a:Processing/a:processingStepSettings/text()", namespaces=ALTO_NS)
    assert settings == ["backend=pytorch", "backend=onnx"]
    correction = root.xpath("//a:Processing[a:processingCategory='contentModification']", namespaces=ALTO_NS)
    assert len(correction) == 1
    assert correction[0].findtext("a:processingAgency", namespaces=ALTO_NS) == "Ива́нова & Co <ed>"
    assert correction[0].findtext("a:processingDateTime", namespaces=ALTO_NS) == "2024-03-06T11:00:00Z"

    page = root.find("a:Layout/a:Page", ALTO_NS)
    assert page is not None
    assert (page.get("WIDTH"), page.get("HEIGHT"), page.get("PHYSICAL_IMG_NR")) == ("1200", "800", "1")
    processing_ids = root.xpath("//a:Processing/@ID", namespaces=ALTO_NS)
    assert page.get("PROCESSINGREFS", "").split() == processing_ids
    blocks = page.findall("a:PrintSpace/a:TextBlock", ALTO_NS)
    assert len(blocks) == 1
    lines = blocks[0].findall("a:TextLine", ALTO_NS)
    assert len(lines) == len(WORDS)
    for line, expected_line in zip(lines, WORDS, strict=True):
        strings = line.findall("a:String", ALTO_NS)
        assert len(line.findall("a:SP", ALTO_NS)) == len(expected_line) - 1
        children = [etree.QName(child).localname for child in line]
        assert children == ["String", "SP"] * (len(expected_line) - 1) + ["String"]
        for string, (text, (x1, y1, x2, y2), _det, rec) in zip(strings, expected_line, strict=True):
            assert string.get("CONTENT") == nfc(text)
            assert [float(string.get(key, "nan")) for key in ("HPOS", "VPOS", "WIDTH", "HEIGHT")] == [
                x1,
                y1,
                x2 - x1,
                y2 - y1,
            ]
            assert float(string.get("WC", "nan")) == pytest.approx(rec)

    ids = root.xpath("//@ID")
    assert len(ids) == len(set(ids))
