"""A directory of ground truth: cards with ``ground_truth.json``, and PAGE or ALTO XML beside scans.

Every card in the directory is used, whatever mixture of formats it holds;
an XML file whose scan cannot be found is an error rather than a card left
out, since a smaller set than the user thinks would give figures they cannot trust.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

from kartoteka.application.recognition.evaluate import EvaluationSample
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.quality import ReferenceCard, ReferenceWord
from kartoteka.infrastructure.ground_truth.xml_formats import (
    GroundTruthError,
    alto_card,
    page_card,
    read_xml,
    xml_kind,
)

SYNTHETIC_TRUTH = "ground_truth.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
XML_ENDINGS = (".page.xml", ".alto.xml", ".xml")  # Kartoteka's exports name files card.page.xml


def find_ground_truth(directory: Path) -> list[tuple[Path, ReferenceCard]]:
    """Every (scan, ground truth) pair in ``directory``, sorted by scan name."""
    if not directory.is_dir():
        raise GroundTruthError(f"{directory}: not a directory")
    pairs: dict[Path, ReferenceCard] = {}
    synthetic = directory / SYNTHETIC_TRUTH
    if synthetic.is_file():
        pairs.update(_synthetic(synthetic))
    for xml in sorted(directory.glob("*.xml")):
        root = read_xml(xml)
        kind = xml_kind(root)
        if kind is None:
            continue
        card, named = page_card(xml, root) if kind == "page" else alto_card(xml, root)
        scan = _scan_for(xml, named)
        pairs[scan] = ReferenceCard(scan.name, card.lines)
    if not pairs:
        raise GroundTruthError(f"{directory}: no {SYNTHETIC_TRUTH} and no PAGE or ALTO files")
    return sorted(pairs.items(), key=lambda pair: str(pair[0]))


async def samples(pairs: list[tuple[Path, ReferenceCard]]) -> AsyncIterator[EvaluationSample]:
    """Read scans one at a time, so a large set never sits in memory at once."""
    for scan, card in pairs:
        try:
            data = scan.read_bytes()
        except OSError as exc:
            raise GroundTruthError(f"{scan}: cannot read: {exc.strerror or exc}") from exc
        yield EvaluationSample(card.name, data, card)


def _synthetic(path: Path) -> dict[Path, ReferenceCard]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        cards = {}
        for entry in entries:
            lines = tuple(
                tuple(ReferenceWord(w["text"], Box(*map(float, w["box"]))) for w in line) for line in entry["lines"]
            )
            scan = path.parent / entry["file"]
            cards[scan] = ReferenceCard(scan.name, lines)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GroundTruthError(f"{path}: not a ground-truth list of {{file, lines: [[{{text, box}}]]}}: {exc}") from exc
    missing = [str(scan) for scan in cards if not scan.is_file()]
    if missing:
        raise GroundTruthError(f"{path}: names scans that are not there: {', '.join(missing[:3])}")
    return cards


def _scan_for(xml: Path, named: str | None) -> Path:
    """The scan an XML file describes: the file it names, else one with the same stem."""
    stem = xml.name
    for ending in XML_ENDINGS:
        if stem.lower().endswith(ending):
            stem = stem[: -len(ending)]
            break
    candidates = [xml.parent / Path(named).name] if named else []
    candidates += [xml.parent / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise GroundTruthError(f"{xml}: no scan found (looked for {', '.join(c.name for c in candidates[:3])}, ...)")
