"""The console script: a process with an unusable configuration does not start."""

from __future__ import annotations

import pytest

from kartoteka.infrastructure.config.settings import CONFIG_PATH_VARIABLE


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("KARTOTEKA__") or key == CONFIG_PATH_VARIABLE:
            monkeypatch.delenv(key)


def test_the_api_does_not_start_with_the_placeholder_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kartoteka.entrypoint import EXIT_CONFIG, main

    monkeypatch.setenv("KARTOTEKA__AUTH__KIND", "otp")
    assert main(["api"]) == EXIT_CONFIG
    assert "auth.secret_key must be set" in capsys.readouterr().err
