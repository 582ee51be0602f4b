"""How many jobs a worker runs at once, per queue."""

from __future__ import annotations

from kartoteka.infrastructure.config.settings import BrokerSettings, Settings
from kartoteka.runtime.worker import job_concurrency


def test_a_recognition_worker_has_two_cards_in_flight_by_default() -> None:
    # Two: the next card is decoded and detected while the current one is read.
    assert job_concurrency(Settings(), "recognition") == 2


def test_prefetch_one_runs_cards_one_after_another_and_embedding_still_takes_a_few() -> None:
    settings = Settings(broker=BrokerSettings(prefetch=1))
    assert job_concurrency(settings, "recognition") == 1
    assert job_concurrency(settings, "embedding") == 2
