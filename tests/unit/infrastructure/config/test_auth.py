"""The auth settings section: safe defaults, and OTP mode refusing to start without a real secret."""

from __future__ import annotations

import pytest

from kartoteka.infrastructure.config.settings import CONFIG_PATH_VARIABLE, ConfigurationError, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("KARTOTEKA__") or key == CONFIG_PATH_VARIABLE:
            monkeypatch.delenv(key)


def test_defaults_are_no_auth_with_secure_cookies_and_eight_character_codes() -> None:
    auth = load_settings().auth
    assert auth.kind == "none"
    assert auth.cookie_secure is True
    assert auth.otp_length == 8
    assert (auth.smtp.tls, auth.smtp.port) == ("starttls", 587)


def test_otp_mode_refuses_the_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KARTOTEKA__AUTH__KIND", "otp")
    with pytest.raises(ConfigurationError, match="secret_key must be set"):
        load_settings()
    monkeypatch.setenv("KARTOTEKA__AUTH__SECRET_KEY", "short")
    with pytest.raises(ConfigurationError, match="at least 32"):
        load_settings()
    monkeypatch.setenv("KARTOTEKA__AUTH__SECRET_KEY", "s" * 32)
    assert load_settings().auth.kind == "otp"


def test_the_secret_never_shows_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KARTOTEKA__AUTH__KIND", "otp")
    monkeypatch.setenv("KARTOTEKA__AUTH__SECRET_KEY", "do-not-print-" + "x" * 32)
    monkeypatch.setenv("KARTOTEKA__AUTH__SMTP__PASSWORD", "mail-password-123")
    shown = repr(load_settings()) + str(load_settings().model_dump())
    assert "do-not-print" not in shown
    assert "mail-password-123" not in shown


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KARTOTEKA__AUTH__OTP_ALPHABET", "AAB1234567"),
        ("KARTOTEKA__AUTH__OTP_ALPHABET", "ABC"),
        ("KARTOTEKA__AUTH__OTP_ALPHABET", "АБВГДЕЖЗИЙК"),
        ("KARTOTEKA__AUTH__OTP_LENGTH", "3"),
        ("KARTOTEKA__AUTH__SMTP__TLS", "ssl"),
        ("KARTOTEKA__AUTH__KIND", "password"),
    ],
)
def test_unusable_values_are_refused_by_name(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert variable in str(refused.value)
