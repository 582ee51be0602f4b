"""ALTO v4 (4.4): the text-and-layout format libraries load into their digital collections.

A card is one page with one print space and one text block; each word is a
``String`` with its box and its recognition score as ``WC``, with ``SP`` between
words so ALTO readers rebuild the spacing. ALTO has no place for a detection
score, so that one stays in the PAGE and JSON exports. Provenance is a
``Processing`` step for Kartoteka, one per model, and one for the latest human
correction, all referenced from the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from kartoteka.application.recognition.ports.exports import ExportDocument
from kartoteka.domain.recognition.transcript import ModelIdentity, TranscriptLine
from kartoteka.infrastructure.export.support import (
    PRODUCER,
    confidence,
    format_confidence,
    page_size,
    pixel_rect,
    producer_version,
    text_extent,
    xml_text,
    xsd_datetime,
)

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_VERSION = "4.4"
SCHEMA_LOCATION = f"{ALTO_NS} http://www.loc.gov/alto/v4/alto-4-4.xsd"


def _tag(name: str) -> str:
    return f"{{{ALTO_NS}}}{name}"


def _sub(parent: etree._Element, tag: str, text: str | None = None, /, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _tag(tag), attributes)
    if text is not None:
        element.text = xml_text(text)
    return element


def _place(element: etree._Element, rect: tuple[int, int, int, int]) -> None:
    x1, y1, x2, y2 = rect
    element.set("HPOS", str(x1))
    element.set("VPOS", str(y1))
    element.set("WIDTH", str(x2 - x1))
    element.set("HEIGHT", str(y2 - y1))


class AltoXmlExporter:
    media_type: str = "application/xml"
    file_extension: str = ".alto.xml"

    def render(self, document: ExportDocument) -> bytes:
        root = etree.Element(
            _tag("alto"),
            nsmap={None: ALTO_NS, "xlink": XLINK_NS, "xsi": XSI_NS},  # type: ignore[dict-item]  # the stubs omit the default namespace
        )
        root.set("SCHEMAVERSION", SCHEMA_VERSION)
        root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
        processing_ids = self._description(root, document)

        width, height = page_size(document)
        layout = _sub(root, "Layout")
        page = _sub(
            layout,
            "Page",
            ID="page_1",
            PHYSICAL_IMG_NR="1",
            WIDTH=str(width),
            HEIGHT=str(height),
            PROCESSINGREFS=" ".join(processing_ids),
        )
        print_space = _sub(page, "PrintSpace", ID="print_space")
        _place(print_space, (0, 0, width, height))

        lines = [line for line in document.transcript.lines if line.words]
        block = _sub(print_space, "TextBlock", ID="block_1")
        _place(block, text_extent(lines, width, height))
        for number, line in enumerate(lines, start=1):
            self._line(block, line, f"line_{number}", width, height)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))

    @staticmethod
    def _line(block: etree._Element, line: TranscriptLine, line_id: str, width: int, height: int) -> None:
        box = line.box
        if box is None:  # only lines with words are passed in; ALTO needs a String in every line
            return
        element = _sub(block, "TextLine", ID=line_id)
        line_rect = pixel_rect(box, width, height)
        _place(element, line_rect)
        previous_end: int | None = None
        for number, word in enumerate(line.words, start=1):
            rect = pixel_rect(word.box, width, height)
            if previous_end is not None:
                space = _sub(element, "SP")
                if rect[0] > previous_end:
                    space.set("HPOS", str(previous_end))
                    space.set("VPOS", str(line_rect[1]))
                    space.set("WIDTH", str(rect[0] - previous_end))
                    space.set("HEIGHT", str(line_rect[3] - line_rect[1]))
            string = _sub(element, "String", ID=f"{line_id}_string_{number}", CONTENT=xml_text(word.text))
            _place(string, rect)
            score = confidence(word.recognition_confidence)
            if score is not None:
                string.set("WC", format_confidence(score))
            previous_end = rect[2]

    @staticmethod
    def _description(root: etree._Element, document: ExportDocument) -> list[str]:
        """Write Description; returns the Processing ids the page refers to."""
        description = _sub(root, "Description")
        _sub(description, "MeasurementUnit", "pixel")
        source = _sub(description, "sourceImageInformation")
        _sub(source, "fileName", document.image_filename)
        _sub(source, "fileIdentifier", str(document.task_id), fileIdentifierLocation=f"{PRODUCER} task")

        ids: list[str] = []
        created = xsd_datetime(document.created_at)
        version = producer_version()

        def step(category: str, moment: str) -> etree._Element:
            ids.append(f"processing_{len(ids) + 1}")
            element = _sub(description, "Processing", ID=ids[-1])
            _sub(element, "processingCategory", category)
            _sub(element, "processingDateTime", moment)
            return element

        pipeline = step("contentGeneration", created)
        _sub(pipeline, "processingStepDescription", "word detection, line grouping and handwriting recognition")
        software = _sub(pipeline, "processingSoftware")
        _sub(software, "softwareName", PRODUCER)
        if version:
            _sub(software, "softwareVersion", version)

        models: Sequence[ModelIdentity] = document.transcript.models
        for model in models:
            element = step("contentGeneration", created)
            _sub(element, "processingStepDescription", model.role)
            if model.backend:
                _sub(element, "processingStepSettings", f"backend={model.backend}")
            software = _sub(element, "processingSoftware")
            _sub(software, "softwareName", model.name)
            if model.revision:
                _sub(software, "softwareVersion", model.revision)
            backend = f", {model.backend} backend" if model.backend else ""
            _sub(software, "applicationDescription", f"{model.role} model run by {PRODUCER}{backend}")

        if document.revision > 0 and document.revised_by:  # a later machine reading names no editor
            element = step("contentModification", xsd_datetime(document.last_change))
            if document.revised_by:
                _sub(element, "processingAgency", document.revised_by)
            _sub(element, "processingStepDescription", f"manual correction, revision {document.revision}")
            software = _sub(element, "processingSoftware")
            _sub(software, "softwareName", PRODUCER)
            if version:
                _sub(software, "softwareVersion", version)
        return ids
