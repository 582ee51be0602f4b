"""Delivering committed outbox messages to where they go (broker, pub/sub, exchange)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kartoteka.application.ports.unit_of_work import OutboundMessage


class PublishError(Exception):
    """The message was not delivered; the relay retries it later."""


class MessagePublisher(Protocol):
    """Publishes a batch; raises PublishError (or anything) when not all of it was delivered."""

    async def publish(self, messages: Sequence[OutboundMessage]) -> None: ...
