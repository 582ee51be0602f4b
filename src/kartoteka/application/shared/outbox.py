"""The outbox: messages written with the state change that causes them, delivered after commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message the relay delivers after commit: ``destination`` names the channel kind."""

    destination: str
    key: str
    payload: dict[str, Any]


class PublishError(Exception):
    """The message was not delivered; the relay retries it later."""


class DestinationUnavailableError(PublishError):
    """The destination cannot be reached at all (server down, connection lost).

    Nothing is wrong with the messages, so the relay keeps them as they are,
    without spending their attempts, and waits for the destination to return;
    an outage of any length never turns good messages into dead ones.
    """


class MessagePublisher(Protocol):
    """Publishes a batch; raises PublishError (or anything) when not all of it was delivered."""

    async def publish(self, messages: Sequence[OutboundMessage]) -> None: ...
