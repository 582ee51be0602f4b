"""Ground truth from files: Kartoteka's own PAGE and ALTO exports read back, the synthetic JSON, and bad sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from kartoteka.domain.recognition.geometry import Box
from kartoteka.infrastructure.export.alto_xml import AltoXmlExporter
from kartoteka.infrastructure.export.page_xml import PageXmlExporter
from kartoteka.infrastructure.ground_truth.directory import find_ground_truth, samples
from kartoteka.infrastructure.ground_truth.xml_formats import GroundTruthError
from tests.unit.infrastructure.export.sample import HEIGHT, WIDTH, WORDS, make_document, make_transcript, nfc

MM10 = "<MeasurementUnit>mm10</MeasurementUnit>"


def scan(path: Path) -> bytes:
    Image.new("RGB", (WIDTH, HEIGHT), "white").save(path)
    return path.read_bytes()


@pytest.mark.parametrize("exporter", [PageXmlExporter(), AltoXmlExporter()], ids=["page", "alto"])
def test_an_export_reads_back_as_the_ground_truth_it_describes(tmp_path: Path, exporter: object) -> None:
    document = make_document(make_transcript(WORDS), image_filename="Ящик 12/карточка №7.png")
    (tmp_path / f"карточка №7{exporter.file_extension}").write_bytes(exporter.render(document))  # type: ignore[attr-defined]
    scan(tmp_path / "карточка №7.png")
    [(path, card)] = find_ground_truth(tmp_path)
    assert path == tmp_path / "карточка №7.png"
    assert card.name == "карточка №7.png"
    assert [[w.text for w in line] for line in card.lines] == [[nfc(t) for t, *_ in line] for line in WORDS]
    assert [[w.box for w in line] for line in card.lines] == [[Box(*b) for _, b, *_ in line] for line in WORDS]


async def test_samples_read_each_scan_with_its_truth(tmp_path: Path) -> None:
    (tmp_path / "card.page.xml").write_bytes(PageXmlExporter().render(make_document(make_transcript(WORDS))))
    image = scan(tmp_path / "card.png")  # the export names another file: the same stem is used
    read = [s async for s in samples(find_ground_truth(tmp_path))]
    assert [(s.name, s.image) for s in read] == [("card.png", image)]


def test_synthetic_ground_truth_and_xml_mix_in_one_directory(tmp_path: Path) -> None:
    scan(tmp_path / "a.png")
    scan(tmp_path / "b.png")
    truth = [{"file": "a.png", "text": "до́м", "lines": [[{"text": "до́м", "box": [1, 2, 30, 40]}]]}]
    (tmp_path / "ground_truth.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "b.alto.xml").write_bytes(AltoXmlExporter().render(make_document(make_transcript(WORDS))))
    found = find_ground_truth(tmp_path)
    assert [p.name for p, _ in found] == ["a.png", "b.png"]
    assert found[0][1].words[0].box == Box(1, 2, 30, 40)


def test_page_lines_without_words_are_scored_on_text_alone(tmp_path: Path) -> None:
    scan(tmp_path / "line.png")
    (tmp_path / "line.xml").write_text(
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"><Page imageFilename="line.png">'
        "<TextRegion><TextLine><TextEquiv><Unicode>Во́да  течёт</Unicode></TextEquiv></TextLine></TextRegion>"
        "</Page></PcGts>",
        encoding="utf-8",
    )
    [(_, card)] = find_ground_truth(tmp_path)
    assert [(w.text, w.box) for w in card.words] == [("Во́да", None), ("течёт", None)]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no ground_truth.json and no PAGE or ALTO files"),
        ({"x.page.xml": "<PcGts><Page imageFilename='gone.png'/></PcGts>"}, "no scan found"),
        ({"x.xml": "<PcGts><Page"}, "not readable XML"),
        ({"ground_truth.json": '[{"file": "gone.png", "lines": []}]'}, "names scans that are not there"),
        ({"ground_truth.json": '{"not": "a list"}'}, "not a ground-truth list"),
        ({"x.png": "", "x.xml": f"<alto><Description>{MM10}</Description></alto>"}, "only pixel"),
    ],
)
def test_a_set_that_cannot_be_scored_says_why(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(GroundTruthError, match=message):
        find_ground_truth(tmp_path)
