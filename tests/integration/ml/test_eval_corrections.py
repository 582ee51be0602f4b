"""``kartoteka eval --from-corrections``: the archive's corrected cards, from PostgreSQL and S3, as ground truth."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.di import CardRecognition, recognition_container
from kartoteka.domain.recognition.corrections import EditWord
from kartoteka.domain.recognition.task import CardImage, RecognitionTask
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.entrypoint import main
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.storage.s3 import S3ObjectStorage
from kartoteka_dev.synthetic_cards import write_cards
from tests.harness.s3 import S3Server

NOW = datetime(2026, 5, 1, tzinfo=UTC)
EDITOR = "ivanova@example.org"


@pytest.fixture
def settings(migrated_database: str, s3_server: S3Server, tiny_detector: Path, tiny_recognizer: Path) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": migrated_database},
            "s3": {
                "endpoint": s3_server.endpoint,
                "access_key": s3_server.access_key,
                "secret_key": s3_server.secret_key,
                "region": s3_server.region,
                "bucket": f"eval-{uuid.uuid4().hex[:8]}",
            },
            "recognition": {
                "detector": {"model": str(tiny_detector), "conf": 0.0, "imgsz": 320, "max_det": 12},
                "recognizer": {"model": str(tiny_recognizer), "batch_size": 4},
            },
            "inference": {"device": "cpu"},
        }
    )


async def read(settings: Settings, scan: bytes) -> Transcript:
    container = recognition_container(settings)
    try:
        return await (await container.get(CardRecognition))(scan)
    finally:
        await container.close()


async def store_card(settings: Settings, scan: bytes, reading: Transcript, corrected: bool) -> uuid.UUID:
    task_id = uuid.uuid4()
    key = f"cards/{task_id}/original.png"
    storage = S3ObjectStorage(settings.s3)
    await storage.ensure_bucket()
    await storage.put(key, scan, "image/png")
    await storage.close()
    task = RecognitionTask.submit(task_id, CardImage(key, "карточка.png", "image/png", len(scan), 1, 1), NOW)
    task.start(1, NOW)
    task.complete(1, reading, NOW)
    if corrected:
        task.correct([EditWord(0, 0, "до\u0301м")], EDITOR, NOW, expected_revision=0)
    engine = create_async_engine(settings.database.url)
    async with SqlUnitOfWork(engine, messages_for) as uow:
        await uow.tasks.add(task)
        await uow.commit()
    await engine.dispose()
    return task_id


def environment(settings: Settings, s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KARTOTEKA__DATABASE__URL", settings.database.url)
    facts = {"endpoint": s3.endpoint, "access_key": s3.access_key, "secret_key": s3.secret_key, "region": s3.region}
    for key, value in {**facts, "bucket": settings.s3.bucket}.items():
        monkeypatch.setenv(f"KARTOTEKA__S3__{key.upper()}", value)
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__DETECTOR__MODEL", settings.recognition.detector.model)
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__DETECTOR__CONF", "0.0")
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__DETECTOR__IMGSZ", "320")
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__DETECTOR__MAX_DET", "12")
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__RECOGNIZER__MODEL", settings.recognition.recognizer.model)
    monkeypatch.setenv("KARTOTEKA__INFERENCE__DEVICE", "cpu")


def test_only_cards_whose_latest_revision_a_person_made_are_measured(
    settings: Settings,
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environment(settings, s3_server, monkeypatch)
    assert main(["eval", "--from-corrections"]) == 2  # nothing corrected yet: said, not a table of zeros
    assert "no card's latest revision is a correction" in capsys.readouterr().err

    [(path, _)] = write_cards(tmp_path, 1, seed=11)
    scan = path.read_bytes()
    reading = asyncio.run(read(settings, scan))
    corrected = asyncio.run(store_card(settings, scan, reading, corrected=True))
    asyncio.run(store_card(settings, scan, reading, corrected=False))  # the machine's reading is no ground truth

    assert main(["eval", "--from-corrections", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cards"] == 1
    assert report["worst"][0]["card"] == f"{corrected}/карточка.png"
    # The models read the card again exactly as before; the only difference is the word the person retyped.
    truth_words = [w for i, w in enumerate(reading.words) if w.text or i == 0]  # word 0 now reads "до́м"
    assert report["wer"] == pytest.approx(1 / len(truth_words))
    assert report["stress"]["missing"] == 1

    # The same cards become a training set, with the person's text on the word they retyped.
    assert main(["dataset", "export", str(tmp_path / "set"), "--from-corrections", "--validation", "0"]) == 0
    metadata = (tmp_path / "set" / "recognizer" / "train" / "metadata.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in metadata.splitlines()]
    assert records[0]["text"] == "до\u0301м"
    assert {r["card"] for r in records} == {f"{corrected}/карточка.png"}
