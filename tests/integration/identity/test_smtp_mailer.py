"""SmtpMailer against aiosmtpd servers: plain, STARTTLS and implicit TLS, and servers that fail."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from kartoteka.application.identity.ports import MailMessage, MailUnavailableError
from kartoteka.infrastructure.config.auth import SmtpSettings
from kartoteka.infrastructure.mail.smtp import SmtpMailer
from tests.harness.network import LOOPBACK, free_port
from tests.harness.smtp import Inbox, SmtpServer

# A self-signed certificate for 127.0.0.1 and localhost, valid until 2126, made for these tests only.
TLS = Path(__file__).parent / "tls"
MESSAGE = MailMessage(to="ann@example.org", subject="Your OTP Code", body="Your OTP code is: K7PQ2M9X\n")


def server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "server.crt", TLS / "server.key")
    return context


@pytest.fixture
def tls_servers() -> Iterator[tuple[int, int, Inbox]]:
    """One server that requires STARTTLS and one that speaks TLS from the start, into one inbox."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    starttls = Controller(
        inbox,
        hostname=LOOPBACK,
        port=free_port(),
        server_hostname="localhost",
        tls_context=server_context(),
        require_starttls=True,
    )
    implicit = Controller(
        inbox, hostname=LOOPBACK, port=free_port(), server_hostname="localhost", ssl_context=server_context()
    )
    starttls.start()
    try:
        implicit.start()
        try:
            yield starttls.port, implicit.port, inbox
        finally:
            implicit.stop()
    finally:
        starttls.stop()


def settings(port: int, tls: str, **more: object) -> SmtpSettings:
    return SmtpSettings.model_validate(
        {"host": LOOPBACK, "port": port, "tls": tls, "from_address": "codes@kartoteka.example", "timeout_s": 5} | more
    )


async def test_a_message_arrives_with_its_headers_and_body(smtp_server: SmtpServer) -> None:
    await SmtpMailer(settings(smtp_server.port, "none", host=smtp_server.host)).send(MESSAGE)
    received = smtp_server.wait_for_message(lambda m: "ann@example.org" in m.rcpt_tos)
    mail = received.message
    assert received.mail_from == "codes@kartoteka.example"
    assert (mail["To"], mail["Subject"]) == ("ann@example.org", "Your OTP Code")
    assert str(mail["Message-ID"]).endswith("@kartoteka.example>")
    assert "Your OTP code is: K7PQ2M9X" in mail.get_content()


async def test_starttls_and_implicit_tls_are_both_spoken(tls_servers: tuple[int, int, Inbox]) -> None:
    starttls_port, implicit_port, inbox = tls_servers
    await SmtpMailer(settings(starttls_port, "starttls", ca_file=str(TLS / "server.crt"))).send(MESSAGE)
    await SmtpMailer(settings(implicit_port, "tls", ca_file=str(TLS / "server.crt"))).send(MESSAGE)
    assert len(inbox.messages) == 2


async def test_a_certificate_that_is_not_trusted_is_refused(tls_servers: tuple[int, int, Inbox]) -> None:
    starttls_port, implicit_port, inbox = tls_servers
    with pytest.raises(MailUnavailableError):
        await SmtpMailer(settings(implicit_port, "tls")).send(MESSAGE)  # system CAs do not know it
    with pytest.raises(MailUnavailableError):
        await SmtpMailer(settings(starttls_port, "starttls")).send(MESSAGE)
    assert inbox.messages == []


async def test_starttls_is_required_not_attempted(smtp_server: SmtpServer) -> None:
    before = len(smtp_server.messages)
    with pytest.raises(MailUnavailableError):  # the harness server offers no STARTTLS: never send in clear
        await SmtpMailer(settings(smtp_server.port, "starttls", host=smtp_server.host)).send(MESSAGE)
    assert len(smtp_server.messages) == before


async def test_a_server_that_is_down_is_unavailable() -> None:
    with pytest.raises(MailUnavailableError):
        await SmtpMailer(settings(free_port(), "none", timeout_s=2)).send(MESSAGE)
