"""Fakes of the pipeline's ports that keep a journal of what ran when, for the overlap tests.

Each fake hands the event loop over once inside its stage (as a real adapter does while its model runs on
its thread), so stages of different cards can interleave and the journal shows whether they did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from kartoteka.application.recognition.lanes import StageLanes
from kartoteka.application.recognition.ports.pipeline import Reading
from kartoteka.application.recognition.recognize_card import RecognizeCard
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.layout import Detection, LayoutRules
from kartoteka.domain.recognition.transcript import ModelIdentity


@dataclass(frozen=True)
class Card:
    name: str
    width: int
    height: int
    words: dict[tuple[float, float, float, float], str]


def card(name: str, texts: Sequence[str]) -> Card:
    boxes = {(10.0 + 60 * i, 10.0 + 50 * (i // 3), 60.0 + 60 * i, 40.0 + 50 * (i // 3)): t for i, t in enumerate(texts)}
    return Card(name, 400, 300, boxes)


A = card("A", ["Ба́тюшка,", "м.", "Отец", "на‿гору", "1974"])
B = card("B", ["Изба́", "ж.", "дом", "Вологда"])
# The scans' bytes, as tests.fakes.shared.MagicBytesInspector accepts them for upload.
A_SCAN, B_SCAN = b"PNG:400x300", b"PNG:401x300"
CARDS = {A_SCAN: A, B_SCAN: B}


@dataclass
class Journal:
    """What happened, in order, and how many cards each model held at once at most."""

    events: list[str] = field(default_factory=list)
    inside: dict[str, int] = field(default_factory=dict)
    most_inside: dict[str, int] = field(default_factory=dict)
    _reached: dict[str, asyncio.Event] = field(default_factory=dict)

    def enter(self, model: str, what: str) -> None:
        self._record(f"{what} begins")
        self.inside[model] = self.inside.get(model, 0) + 1
        self.most_inside[model] = max(self.most_inside.get(model, 0), self.inside[model])

    def leave(self, model: str, what: str) -> None:
        self.inside[model] -= 1
        self._record(f"{what} ends")

    async def until(self, event: str) -> None:
        """Return once ``event`` has happened (at once if it already has)."""
        await self._reached.setdefault(event, asyncio.Event()).wait()

    def _record(self, event: str) -> None:
        self.events.append(event)
        self._reached.setdefault(event, asyncio.Event()).set()


class JournalLoader:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def load(self, data: bytes) -> Card:
        self.journal.enter("loader", f"decode {CARDS[data].name}")
        await asyncio.sleep(0)
        self.journal.leave("loader", f"decode {CARDS[data].name}")
        return CARDS[data]


class JournalDetector:
    identity = ModelIdentity("detector", "listed")

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.detected: dict[str, asyncio.Event] = {"A": asyncio.Event(), "B": asyncio.Event()}
        self.empty: set[str] = set()  # cards on which no word is found

    async def detect(self, image: Card) -> list[Detection]:
        self.journal.enter("detector", f"detect {image.name}")
        await asyncio.sleep(0)
        self.journal.leave("detector", f"detect {image.name}")
        self.detected[image.name].set()
        if image.name in self.empty:
            return []
        return [Detection(Box(*b), 0.9) for b in reversed(list(image.words))]


class JournalRecognizer:
    """Reads card A only once ``release_a`` is set, when there is one."""

    identity = ModelIdentity("recognizer", "lookup")
    batch_size = 2

    def __init__(self, journal: Journal, release_a: asyncio.Event | None) -> None:
        self.journal = journal
        self.release_a = release_a

    async def read(self, image: Card, boxes: Sequence[Box]) -> list[Reading]:
        self.journal.enter("recognizer", f"read {image.name}")
        if image.name == "A" and self.release_a is not None:
            await self.release_a.wait()
        await asyncio.sleep(0)
        self.journal.leave("recognizer", f"read {image.name}")
        return [Reading(image.words[b.as_tuple()], 0.5) for b in boxes]


@dataclass
class Rig:
    journal: Journal
    detector: JournalDetector
    use_case: RecognizeCard[Card]


def pipeline(release_a: asyncio.Event | None = None, poll_s: float = 0.5) -> Rig:
    journal = Journal()
    detector = JournalDetector(journal)
    recognizer = JournalRecognizer(journal, release_a)
    use_case = RecognizeCard(JournalLoader(journal), detector, recognizer, LayoutRules(), lanes=StageLanes(poll_s))
    return Rig(journal, detector, use_case)
