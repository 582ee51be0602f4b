"""PAGE XML 2019-07-15: the layout-and-text format of Transkribus, eScriptorium and OCR-D.

A card is one page with one text region; lines and words keep their boxes as
four-point polygons in the pixels of the upright scan, so a correction tool can
show each word on the image. Both scores are kept where PAGE has room for them:
the detector's on a word's ``Coords``, the recogniser's on its ``TextEquiv``.
Who made the text (models and the last human revision) goes into ``Metadata``.
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
    model_summary,
    page_size,
    pixel_rect,
    producer_version,
    text_extent,
    xml_text,
    xsd_datetime,
)

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{PAGE_NS} {PAGE_NS}/pagecontent.xsd"


def _tag(name: str) -> str:
    return f"{{{PAGE_NS}}}{name}"


def _sub(parent: etree._Element, tag: str, /, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, _tag(tag), attributes)


def _points(x1: int, y1: int, x2: int, y2: int) -> str:
    """A rectangle as PAGE's clockwise polygon from the top-left corner."""
    return f"{x1},{y1} {x2},{y1} {x2},{y2} {x1},{y2}"


def _text_equiv(parent: etree._Element, text: str, conf: float | None = None) -> None:
    equiv = _sub(parent, "TextEquiv")
    if conf is not None:
        equiv.set("conf", format_confidence(conf))
    _sub(equiv, "Unicode").text = xml_text(text)


class PageXmlExporter:
    """Writes PAGE XML; ``with_baselines`` adds a baseline along each line box's bottom edge.

    The detector finds word boxes, not baselines, so a baseline here is an
    estimate (descenders sit below it); it is off by default and exists for
    tools that insist on one, such as baseline-trained line recognisers.
    """

    media_type: str = "application/xml"
    file_extension: str = ".page.xml"

    def __init__(self, *, with_baselines: bool = False) -> None:
        self._with_baselines = with_baselines

    def render(self, document: ExportDocument) -> bytes:
        root = etree.Element(_tag("PcGts"), nsmap={None: PAGE_NS, "xsi": XSI_NS})  # type: ignore[dict-item]  # the stubs omit the default namespace
        root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
        root.set("pcGtsId", f"task-{document.task_id}")
        self._metadata(root, document)

        width, height = page_size(document)
        page = _sub(
            root,
            "Page",
            imageFilename=xml_text(document.image_filename),
            imageWidth=str(width),
            imageHeight=str(height),
        )
        lines = [line for line in document.transcript.lines if line.words]
        region_id = "region_1"
        order = _sub(_sub(page, "ReadingOrder"), "OrderedGroup", id="reading_order")
        _sub(order, "RegionRefIndexed", index="0", regionRef=region_id)

        region = _sub(page, "TextRegion", id=region_id)
        _sub(region, "Coords", points=_points(*text_extent(lines, width, height)))
        for number, line in enumerate(lines, start=1):
            self._line(region, line, f"line_{number}", width, height)
        _text_equiv(region, "\n".join(line.text for line in lines if line.text))
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))

    def _line(self, region: etree._Element, line: TranscriptLine, line_id: str, width: int, height: int) -> None:
        box = line.box
        if box is None:  # only lines with words are passed in
            return
        element = _sub(region, "TextLine", id=line_id)
        x1, y1, x2, y2 = pixel_rect(box, width, height)
        _sub(element, "Coords", points=_points(x1, y1, x2, y2))
        if self._with_baselines:
            _sub(element, "Baseline", points=f"{x1},{y2} {x2},{y2}")
        for number, word in enumerate(line.words, start=1):
            word_element = _sub(element, "Word", id=f"{line_id}_word_{number}")
            coords = _sub(word_element, "Coords", points=_points(*pixel_rect(word.box, width, height)))
            detection = confidence(word.detection_confidence)
            if detection is not None:
                coords.set("conf", format_confidence(detection))
            _text_equiv(word_element, word.text, confidence(word.recognition_confidence))
        _text_equiv(element, line.text)

    @staticmethod
    def _metadata(root: etree._Element, document: ExportDocument) -> None:
        metadata = _sub(root, "Metadata")
        models: Sequence[ModelIdentity] = document.transcript.models
        version = producer_version()
        creator = f"{PRODUCER} {version}".strip()
        if models:
            creator += " (" + "; ".join(model_summary(model) for model in models) + ")"
        _sub(metadata, "Creator").text = xml_text(creator)
        _sub(metadata, "Created").text = xsd_datetime(document.created_at)
        _sub(metadata, "LastChange").text = xsd_datetime(document.last_change)

        created = xsd_datetime(document.created_at)
        for model in models:
            item = _sub(metadata, "MetadataItem", type="processingStep", name=xml_text(model.role))
            item.set("value", xml_text(model.name))
            item.set("date", created)
            labels = [("revision", model.revision), ("backend", model.backend)]
            if any(value for _, value in labels):
                labels_element = _sub(item, "Labels")
                for kind, value in labels:
                    if value:
                        _sub(labels_element, "Label", type=kind, value=xml_text(value))
        _sub(metadata, "MetadataItem", type="other", name="taskId", value=str(document.task_id))
        revision = _sub(metadata, "MetadataItem", type="other", name="revision", value=str(document.revision))
        revision.set("date", xsd_datetime(document.last_change))
        if document.revised_by:
            author = _sub(metadata, "MetadataItem", type="author", name="revisedBy")
            author.set("value", xml_text(document.revised_by))
            author.set("date", xsd_datetime(document.last_change))
