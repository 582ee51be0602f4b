"""SMTP: an ``aiosmtpd`` server inside the test process that records what it receives.

In-process is enough because the application only ever talks to SMTP as a client; what tests
need is to see exactly what went over the wire, which a real MTA would hide in a queue.
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from .network import LOOPBACK, free_port
from .process import register_cleanup


@dataclass(frozen=True)
class ReceivedMessage:
    """One delivered message with its SMTP envelope, which can differ from its headers."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")


class Inbox:
    """Messages received so far; written by the server thread, read by tests.

    A condition variable (rather than polling) lets ``wait_for`` wake as soon as the message
    the test expects arrives.
    """

    def __init__(self) -> None:
        self._received: list[ReceivedMessage] = []
        self._condition = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd handler hook; the name is fixed by aiosmtpd."""
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        received = ReceivedMessage(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=content,
        )
        with self._condition:
            self._received.append(received)
            self._condition.notify_all()
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._condition:
            return list(self._received)

    def wait_for(self, predicate: Callable[[ReceivedMessage], bool], timeout: float = 10.0) -> ReceivedMessage:
        """The first received message matching ``predicate``, waiting up to ``timeout`` s."""
        found: list[ReceivedMessage] = []

        def match() -> bool:
            found[:] = [m for m in self._received if predicate(m)][:1]
            return bool(found)

        with self._condition:
            if not self._condition.wait_for(match, timeout):
                seen = [(m.rcpt_tos, m.subject) for m in self._received]
                raise TimeoutError(f"no matching message within {timeout} s; received: {seen}")
        return found[0]


@dataclass(frozen=True)
class SmtpServer:
    """Where to send mail; ``inbox`` is None for an external server we cannot observe."""

    host: str
    port: int
    inbox: Inbox | None = field(default=None, compare=False)

    @property
    def observable(self) -> bool:
        return self.inbox is not None

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self._require_inbox().messages

    def wait_for_message(
        self,
        predicate: Callable[[ReceivedMessage], bool] = lambda _: True,
        timeout: float = 10.0,
    ) -> ReceivedMessage:
        return self._require_inbox().wait_for(predicate, timeout)

    def _require_inbox(self) -> Inbox:
        if self.inbox is None:
            raise RuntimeError(f"SMTP server {self.host}:{self.port} is external; its messages cannot be read")
        return self.inbox


@contextmanager
def running_smtp() -> Iterator[SmtpServer]:
    """Start the recording server on a free loopback port in a background thread."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    # A fixed server hostname avoids a reverse-DNS lookup (getfqdn) that stalls offline.
    controller = Controller(inbox, hostname=LOOPBACK, port=port, server_hostname="localhost")
    controller.start()
    stop = register_cleanup(controller.stop)
    try:
        yield SmtpServer(host=LOOPBACK, port=port, inbox=inbox)
    finally:
        stop()
