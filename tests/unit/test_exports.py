"""Exports of one card (txt, JSON, PAGE XML, ALTO XML) and zip bundles of many.

Every PAGE and ALTO file written here is validated against the published XSDs
(tests/data/schemas), offline: the XLink schema ALTO imports from the network
is answered from a local file by an lxml resolver.
"""

from __future__ import annotations

import io
import json
import unicodedata
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from lxml import etree

from kartoteka.application.recognition.ports.exports import (
    BundledCard,
    BundleHeader,
    ExportDocument,
    ExportFormats,
    UnknownExportFormatError,
)
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.transcript import ModelIdentity, Transcript, TranscriptLine, TranscriptWord
from kartoteka.infrastructure.export.registry import default_export_formats
from kartoteka.infrastructure.export.zip_bundle import (
    MANIFEST_NAME,
    ZipBundler,
    iter_zip_bundle,
    safe_stem,
    write_zip_bundle,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
PAGE_NS = {"pc": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}
ALTO_NS = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
XLINK_URL = "http://www.loc.gov/standards/xlink/xlink.xsd"

TASK_ID = UUID("0b6f2a52-4a0e-4c2b-9d43-6f1f7d0c2a11")
CREATED = datetime(2024, 3, 5, 9, 30, 15, tzinfo=UTC)
REVISED = datetime(2024, 3, 6, 14, 0, 0, tzinfo=timezone(timedelta(hours=3)))  # 11:00 UTC

# Stress and quality marks as linguists write them; "и" + U+0306 is decomposed on purpose (NFC makes it "й").
WORDS: list[list[tuple[str, tuple[float, float, float, float], float, float]]] = [
    [("Ба\u0301тюшка,", (40, 30, 260, 90), 0.97, 0.91), ("м.", (280, 40, 330, 90), 0.88, 0.76)],
    [("Ба\u0302ть\u0304ко", (40, 120, 200, 175), 0.93, 0.64), ("на\u203fгоро\u0306", (215, 118, 400, 180), 0.9, 0.58)],
    [("Приволжскии\u0306", (40, 210, 330, 265), 0.81, 0.5), ('<б&р">', (350, 212, 450, 262), 0.7, 0.42)],
    [("Ска\u0311зка", (40, 300, 220, 350), 0.85, 0.66)],
]
WIDTH, HEIGHT = 1200, 800


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def make_transcript(words: list[list[tuple[str, tuple[float, float, float, float], float, float]]]) -> Transcript:
    return Transcript(
        width=WIDTH,
        height=HEIGHT,
        lines=tuple(
            TranscriptLine(tuple(TranscriptWord(text, Box(*box), det, rec) for text, box, det, rec in line))
            for line in words
        ),
        models=(
            ModelIdentity("detector", "Daniil-Domino/yolo11x-dialectic", "3f2a9c1", "pytorch"),
            ModelIdentity("recognizer", "CherryJam/trocr-base-ru-dialectic-stackmix-onnx", "", "onnx"),
        ),
    )


def make_document(transcript: Transcript, **overrides: Any) -> ExportDocument:
    fields: dict[str, Any] = {
        "transcript": transcript,
        "task_id": TASK_ID,
        "image_filename": "Ящик 12/карточка №7.jpg",
        "image_width": WIDTH,
        "image_height": HEIGHT,
        "image_media_type": "image/jpeg",
        "revision": 2,
        "created_at": CREATED,
        "revised_by": "Ива́нова & Co <ed>",
        "revised_at": REVISED,
    }
    fields.update(overrides)
    return ExportDocument(**fields)


@pytest.fixture(scope="module")
def formats() -> ExportFormats:
    return default_export_formats()


@pytest.fixture(scope="module")
def card() -> ExportDocument:
    return make_document(make_transcript(WORDS))


@pytest.fixture(scope="module")
def empty_card() -> ExportDocument:
    return make_document(Transcript(WIDTH, HEIGHT, ()), revision=0, revised_by=None, revised_at=None)


class _OfflineSchemas(etree.Resolver):
    """Answers the XLink import of alto-4-4.xsd with the local copy; everything else stays unresolved."""

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        if system_url == XLINK_URL:
            return self.resolve_filename(str(SCHEMAS / "xlink.xsd"), context)
        return None


def load_schema(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_OfflineSchemas())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    return {"page": load_schema("pagecontent-2019-07-15.xsd"), "alto": load_schema("alto-4-4.xsd")}


def parse_valid(schemas: dict[str, etree.XMLSchema], fmt: str, data: bytes) -> etree._Element:
    """Parse an XML export and fail with the schema's own messages unless it is valid."""
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data)
    schema = schemas[fmt]
    assert schema.validate(root), "\n".join(str(error) for error in schema.error_log)
    return root


def child(element: etree._Element, path: str, namespaces: dict[str, str]) -> etree._Element:
    found = element.find(path, namespaces)
    assert found is not None, path
    return found


def test_plain_text_is_lines_of_nfc_words(formats: ExportFormats, card: ExportDocument) -> None:
    exporter = formats.get("txt")
    data = exporter.render(card)

    expected = "\n".join(" ".join(nfc(text) for text, *_ in line) for line in WORDS) + "\n"
    assert data == expected.encode("utf-8")
    assert "Приволжский".encode() in data  # the decomposed й arrives composed
    assert "и\u0306".encode() not in data
    assert (exporter.media_type, exporter.file_extension) == ("text/plain; charset=utf-8", ".txt")


def test_json_carries_boxes_confidences_models_revision_and_task(formats: ExportFormats, card: ExportDocument) -> None:
    exporter = formats.get("json")
    data = exporter.render(card)
    doc = json.loads(data)

    assert exporter.media_type == "application/json"
    assert doc["task_id"] == str(TASK_ID)
    assert doc["created_at"] == "2024-03-05T09:30:15+00:00"
    assert doc["revision"] == {"number": 2, "author": "Ива́нова & Co <ed>", "created_at": "2024-03-06T11:00:00+00:00"}
    assert doc["image"] == {
        "filename": "Ящик 12/карточка №7.jpg",
        "media_type": "image/jpeg",
        "width": WIDTH,
        "height": HEIGHT,
    }
    transcript = doc["transcript"]
    assert [m["name"] for m in transcript["models"]] == [
        "Daniil-Domino/yolo11x-dialectic",
        "CherryJam/trocr-base-ru-dialectic-stackmix-onnx",
    ]
    assert transcript["models"][0]["revision"] == "3f2a9c1"
    assert transcript["models"][1]["backend"] == "onnx"
    for line, expected_line in zip(transcript["lines"], WORDS, strict=True):
        for word, (text, box, det, rec) in zip(line["words"], expected_line, strict=True):
            assert word == {
                "text": nfc(text),
                "box": list(box),
                "detection_confidence": det,
                "recognition_confidence": rec,
            }
    # The envelope's transcript reads back through the domain's own parser.
    assert Transcript.from_dict(transcript).text == nfc(card.transcript.text)
    # Written as UTF-8, not \u escapes, so the marks are there byte for byte.
    assert "Ба́тюшка,".encode() in data


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


def test_unknown_format_is_a_clear_error_and_names_are_case_insensitive(formats: ExportFormats) -> None:
    assert formats.names == ("txt", "json", "page", "alto")
    assert formats.get(" PAGE ") is formats.get("page")
    assert "Alto" in formats
    assert "docx" not in formats
    with pytest.raises(
        UnknownExportFormatError, match=r"unknown export format 'docx'; choose one of: txt, json, page, alto"
    ):
        formats.get("docx")


# --- batch bundles ---------------------------------------------------------------------------------------------


def bundled(
    task: int, filename: str, content: bytes | None, status: str = "completed", reason: str | None = None
) -> BundledCard:
    return BundledCard(
        task_id=UUID(int=task),
        filename=filename,
        status=status,
        revision=None if content is None else task,
        content=content,
        skipped_reason=reason,
    )


def test_zip_bundle_has_unique_names_and_a_manifest(formats: ExportFormats, card: ExportDocument) -> None:
    rendered = formats.get("json").render(card)
    cards = [
        bundled(1, "IMG_0001.jpg", rendered),
        bundled(2, "IMG_0001.jpg", b"second"),
        bundled(3, "img_0001.JPG", b"third"),  # same name on a case-insensitive disk
        bundled(4, "IMG_0001-2.tif", b"fourth"),  # collides with the name given to card 2
        bundled(5, "running.jpg", None, status="running", reason="recognition has not finished"),
        bundled(6, "manifest.png", b"sixth"),
        bundled(7, "..\\..\\etc/Ящик 12: карточка?.jpeg", b"seventh"),
        bundled(8, "", b"eighth"),
    ]
    header = BundleHeader(format="json", created_at=CREATED, batch_id=UUID(int=99), label="Ящик 12")
    bundler = ZipBundler()
    writer = bundler.open(header, ".json")
    chunks = [writer.add(c) for c in cards]
    chunks.append(writer.finish())
    data = b"".join(chunks)
    assert (bundler.media_type, bundler.file_extension) == ("application/zip", ".zip")
    assert all(chunks[i] for i in (0, 1, 2, 3, 5, 6, 7))  # each exported card is streamed as it is added
    assert chunks[4] == b""  # a skipped card adds nothing but a manifest row

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == [
            "IMG_0001.json",
            "IMG_0001-2.json",
            "img_0001-3.json",
            "IMG_0001-2-2.json",
            "manifest-2.json",  # the manifest's own name is reserved
            "Ящик 12_ карточка_.json",
            f"{UUID(int=8)}.json",
            MANIFEST_NAME,
        ]
        assert archive.read("IMG_0001.json") == rendered
        assert archive.read("IMG_0001-2.json") == b"second"
        manifest = json.loads(archive.read(MANIFEST_NAME))
        assert archive.getinfo("IMG_0001.json").date_time == (2024, 3, 5, 9, 30, 14)  # zip times are 2-second steps

    assert manifest["format"] == "json"
    assert manifest["batch_id"] == str(UUID(int=99))
    assert manifest["label"] == "Ящик 12"
    assert (manifest["exported"], manifest["skipped"]) == (7, 1)
    rows = {row["task_id"]: row for row in manifest["cards"]}
    assert rows[str(UUID(int=2))] == {
        "task_id": str(UUID(int=2)),
        "filename": "IMG_0001.jpg",
        "status": "completed",
        "revision": 2,
        "file": "IMG_0001-2.json",
        "skipped_reason": None,
    }
    assert rows[str(UUID(int=5))] == {
        "task_id": str(UUID(int=5)),
        "filename": "running.jpg",
        "status": "running",
        "revision": None,
        "file": None,
        "skipped_reason": "recognition has not finished",
    }
    assert [row["task_id"] for row in manifest["cards"]] == [str(c.task_id) for c in cards]


def test_zip_bundle_streams_lazily_and_matches_the_in_memory_form() -> None:
    header = BundleHeader(format="txt", created_at=CREATED)
    pulled: list[int] = []

    def cards() -> Any:
        for n in range(3):
            pulled.append(n)
            yield bundled(n + 1, "scan.tif", f"карточка {n}\n".encode())

    stream = iter_zip_bundle(header, ".txt", cards())
    first = next(stream)
    assert pulled == [0]  # nothing is read ahead of what has been written
    data = first + b"".join(stream)
    assert data == write_zip_bundle(
        header, ".txt", (bundled(n + 1, "scan.tif", f"карточка {n}\n".encode()) for n in range(3))
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["scan.txt", "scan-2.txt", "scan-3.txt", MANIFEST_NAME]
        assert archive.read("scan-3.txt").decode() == "карточка 2\n"
        manifest = json.loads(archive.read(MANIFEST_NAME))
    assert (manifest["batch_id"], manifest["label"], manifest["file_extension"]) == (None, None, ".txt")


def test_a_finished_bundle_takes_no_more_cards() -> None:
    writer = ZipBundler().open(BundleHeader(format="txt", created_at=CREATED), ".txt")
    writer.finish()
    with pytest.raises(RuntimeError, match="already finished"):
        writer.add(bundled(1, "a.jpg", b"a"))


def test_a_bundled_card_has_content_or_a_reason() -> None:
    with pytest.raises(ValueError, match="either content or a reason"):
        bundled(1, "a.jpg", None)
    with pytest.raises(ValueError, match="either content or a reason"):
        bundled(1, "a.jpg", b"x", reason="both")


@pytest.mark.parametrize(
    ("filename", "stem"),
    [
        ("box12-p001.png", "box12-p001"),
        ("a.b.jpg", "a.b"),
        (".hidden", "hidden"),
        ("C:\\scans\\card.tif", "card"),
        ("CON.jpg", "CON_"),
        ("  .  ", "fallback"),
        ("ка\u0301рточка\u200b.jpg", "ка́рточка"),
    ],
)
def test_safe_stem(filename: str, stem: str) -> None:
    assert safe_stem(filename, "fallback") == stem
