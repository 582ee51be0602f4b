"""Two cards in flight through one RecognizeCard: the next card is decoded and detected while the current
one is read, each model serves one card at a time, and every card reads as it would alone.

The fakes block on events, not on time: a pipeline that ran the cards one after another would never let
card A's reading finish (it waits for card B's detection), and the guard below turns that into a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from kartoteka.application.recognition.errors import RecognitionCancelledError
from kartoteka.application.recognition.lanes import StageLanes
from kartoteka.application.recognition.ports.pipeline import Reading
from kartoteka.application.recognition.recognize_card import RecognizeCard
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.layout import Detection, LayoutRules
from kartoteka.domain.recognition.task import Progress
from kartoteka.domain.recognition.transcript import ModelIdentity, Transcript

GUARD_S = 5.0  # only a deadlock reaches this: every wait below ends on an event


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
CARDS = {b"a": A, b"b": B}


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


class Loader:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def load(self, data: bytes) -> Card:
        self.journal.enter("loader", f"decode {CARDS[data].name}")
        await asyncio.sleep(0)  # a real decoder hands the loop over while it works
        self.journal.leave("loader", f"decode {CARDS[data].name}")
        return CARDS[data]


class Detector:
    identity = ModelIdentity("detector", "listed")

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.detected: dict[str, asyncio.Event] = {"A": asyncio.Event(), "B": asyncio.Event()}

    async def detect(self, image: Card) -> list[Detection]:
        self.journal.enter("detector", f"detect {image.name}")
        await asyncio.sleep(0)
        self.journal.leave("detector", f"detect {image.name}")
        self.detected[image.name].set()
        return [Detection(Box(*b), 0.9) for b in reversed(list(image.words))]


class Recognizer:
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
    detector: Detector
    use_case: RecognizeCard[Card]


def pipeline(release_a: asyncio.Event | None = None, poll_s: float = 0.5) -> Rig:
    journal = Journal()
    detector = Detector(journal)
    recognizer = Recognizer(journal, release_a)
    use_case = RecognizeCard(Loader(journal), detector, recognizer, LayoutRules(), lanes=StageLanes(poll_s))
    return Rig(journal, detector, use_case)


async def alone(data: bytes) -> Transcript:
    return await pipeline().use_case(data)


async def test_the_next_card_is_detected_while_the_current_one_is_read() -> None:
    b_detected = asyncio.Event()
    rig = pipeline(release_a=b_detected)  # A's first batch cannot end before B has been detected
    rig.detector.detected["B"] = b_detected

    async with asyncio.timeout(GUARD_S):
        got_a, got_b = await asyncio.gather(rig.use_case(b"a"), rig.use_case(b"b"))

    assert got_a == await alone(b"a")
    assert got_b == await alone(b"b")
    events = rig.journal.events
    assert events.index("read A begins") < events.index("detect B begins") < events.index("read A ends")
    assert rig.journal.most_inside == {"loader": 1, "detector": 1, "recognizer": 1}


async def test_a_cards_batches_are_never_interleaved_with_the_next_cards() -> None:
    rig = pipeline()
    async with asyncio.timeout(GUARD_S):
        await asyncio.gather(rig.use_case(b"a"), rig.use_case(b"b"))
    reads = [e.split()[1] for e in rig.journal.events if e.startswith("read") and e.endswith("begins")]
    assert reads == ["A", "A", "A", "B", "B"]  # 5 words and 4 words in batches of 2, A first as it came first


async def test_each_card_reports_the_progress_it_reports_alone() -> None:
    def recorder() -> tuple[list[Progress], object]:
        seen: list[Progress] = []

        async def progress(p: Progress) -> None:
            seen.append(p)

        return seen, progress

    alone_seen, alone_progress = recorder()
    await pipeline().use_case(b"b", progress=alone_progress)  # type: ignore[arg-type]

    use_case = pipeline().use_case
    a_seen, a_progress = recorder()
    b_seen, b_progress = recorder()
    async with asyncio.timeout(GUARD_S):
        await asyncio.gather(
            use_case(b"a", progress=a_progress),  # type: ignore[arg-type]
            use_case(b"b", progress=b_progress),  # type: ignore[arg-type]
        )
    assert b_seen == alone_seen
    assert [(p.stage, p.done, p.total) for p in a_seen] == [
        ("decoding", 0, 1),
        ("detecting", 0, 1),
        ("reading", 0, 5),
        ("reading", 2, 5),
        ("reading", 4, 5),
        ("reading", 5, 5),
    ]


async def test_a_card_waiting_for_the_recogniser_stops_when_cancelled_without_waiting_for_the_current_card() -> None:
    release_a = asyncio.Event()  # A keeps the recogniser until the end of the test
    rig = pipeline(release_a, poll_s=0.01)
    b_cancelled = asyncio.Event()

    async def cancelled_b() -> bool:
        return b_cancelled.is_set()

    reading_a = asyncio.create_task(rig.use_case(b"a"))
    async with asyncio.timeout(GUARD_S):
        await rig.journal.until("read A begins")
        waiting_b = asyncio.create_task(rig.use_case(b"b", cancelled=cancelled_b))
        await rig.journal.until("detect B ends")
        b_cancelled.set()  # B is now queued behind A for the recogniser
        with pytest.raises(RecognitionCancelledError):
            await waiting_b
        assert not reading_a.done()
        release_a.set()
        assert await reading_a == await alone(b"a")
    assert not any(e.startswith("read B") for e in rig.journal.events)


async def test_a_card_stopped_by_its_time_limit_while_queued_leaves_the_lanes_free() -> None:
    release_a = asyncio.Event()
    rig = pipeline(release_a, poll_s=0.01)
    reading_a = asyncio.create_task(rig.use_case(b"a"))
    async with asyncio.timeout(GUARD_S):
        await rig.journal.until("read A begins")
        waiting_b = asyncio.create_task(rig.use_case(b"b"))
        await rig.journal.until("detect B ends")
        waiting_b.cancel()  # what ProcessCard's asyncio.timeout does to a job past its limit
        with pytest.raises(asyncio.CancelledError):
            await waiting_b
        release_a.set()
        await reading_a
        assert await rig.use_case(b"b") == await alone(b"b")  # the read lane was handed on, not left taken
