"""Zip bundles of many exported cards: unique names, a manifest, streamed lazily."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any
from uuid import UUID

import pytest

from kartoteka.application.recognition.ports.exports import BundleHeader, ExportDocument, ExportFormats
from kartoteka.infrastructure.export.zip_bundle import (
    MANIFEST_NAME,
    ZipBundler,
    iter_zip_bundle,
    safe_stem,
    write_zip_bundle,
)
from tests.unit.infrastructure.export.sample import CREATED, bundled


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
