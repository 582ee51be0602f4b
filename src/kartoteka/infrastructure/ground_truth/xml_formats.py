"""PAGE and ALTO as ground truth: what Kartoteka's exports write and eScriptorium or Transkribus export.

Elements are found by local name, so PAGE files of older schema versions
(2010-2017 namespaces) read the same; geometry is taken as pixels of the
scan, which is what both formats mean by default.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.quality import ReferenceCard, ReferenceWord


class GroundTruthError(ValueError):
    """A ground-truth file that cannot be scored against: names the file and what is wrong."""


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str) and _local(child) == name]


def _descendants(element: etree._Element, name: str) -> list[etree._Element]:
    return [e for e in element.iter() if isinstance(e.tag, str) and _local(e) == name]


def read_xml(path: Path) -> etree._Element:
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        return etree.parse(str(path), parser).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise GroundTruthError(f"{path}: not readable XML: {exc}") from exc


def xml_kind(root: etree._Element) -> str | None:
    """``page``, ``alto`` or None for any other XML."""
    return {"PcGts": "page", "alto": "alto"}.get(_local(root))


def page_card(path: Path, root: etree._Element) -> tuple[ReferenceCard, str | None]:
    """The card a PAGE file describes and the image file it names (if any)."""
    pages = _descendants(root, "Page")
    if not pages:
        raise GroundTruthError(f"{path}: a PAGE file without a Page element")
    lines: list[tuple[ReferenceWord, ...]] = []
    for line in _descendants(pages[0], "TextLine"):
        words = [ReferenceWord(_page_text(path, word), _page_box(path, word)) for word in _children(line, "Word")]
        if not words:  # line-level ground truth: the text without word geometry
            words = [ReferenceWord(text) for text in _page_text(path, line).split()]
        lines.append(tuple(w for w in words if w.text))
    return ReferenceCard(path.stem, tuple(lines)), pages[0].get("imageFilename")


def _page_text(path: Path, element: etree._Element) -> str:
    for equiv in _children(element, "TextEquiv"):
        for unicode in _children(equiv, "Unicode"):
            return unicode.text or ""
    return ""


def _page_box(path: Path, element: etree._Element) -> Box | None:
    coords = _children(element, "Coords")
    if not coords or not coords[0].get("points"):
        return None
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in (coords[0].get("points") or "").split()]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return Box(min(xs), min(ys), max(xs), max(ys))
    except (ValueError, IndexError) as exc:
        raise GroundTruthError(f"{path}: unreadable Coords points {coords[0].get('points')!r}") from exc


def alto_card(path: Path, root: etree._Element) -> tuple[ReferenceCard, str | None]:
    """The card an ALTO file describes and the image file its description names (if any)."""
    units = [e.text for e in _descendants(root, "MeasurementUnit")]
    if units and units[0] and units[0].strip() != "pixel":
        raise GroundTruthError(f"{path}: ALTO in {units[0].strip()!r}; only pixel coordinates can be scored")
    lines = []
    for line in _descendants(root, "TextLine"):
        words = [ReferenceWord(s.get("CONTENT") or "", _alto_box(path, s)) for s in _children(line, "String")]
        lines.append(tuple(w for w in words if w.text))
    names = [e.text for e in _descendants(root, "fileName") if e.text]
    return ReferenceCard(path.stem, tuple(lines)), names[0] if names else None


def _alto_box(path: Path, element: etree._Element) -> Box | None:
    values = [element.get(k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")]
    if any(v is None for v in values):
        return None
    try:
        x, y, w, h = (float(v) for v in values if v is not None)
        return Box(x, y, x + w, y + h)
    except ValueError as exc:
        raise GroundTruthError(f"{path}: unreadable String geometry {values}") from exc
